/**
 * ffmpeg command lines for the filter loop, built only from numbers the server chose
 * (ports, sizes, SSRC): nothing a client sends reaches them. They run through spawn with an
 * argument array, never a shell.
 */
/**
 * Every number that reaches an ffmpeg argument passes through here: it must be a finite
 * integer (or, for `real`, a finite number) in range, so a bug upstream can never smuggle
 * text, NaN or a negative size into a command line.
 */
function int(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`ffmpeg argument ${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  return v;
}
function real(name: string, v: number, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new RangeError(`ffmpeg argument ${name} must be a number in [${lo}, ${hi}], got ${String(v)}`);
  return v;
}
const port = (name: string, v: number) => int(name, v, 1, 65535);

export interface DecodeArgs {
  width: number;
  height: number;
}

/** SDP that tells ffmpeg where RTP for the consumed VP8 stream arrives. */
export function decoderSdp(rtpPort: number, payloadType: number): string {
  port('rtpPort', rtpPort);
  port('rtcpPort', rtpPort + 1);
  int('payloadType', payloadType, 0, 127);
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=portrait-edit decoder',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=video ${rtpPort} RTP/AVP ${payloadType}`,
    `a=rtcp:${rtpPort + 1}`,
    `a=rtpmap:${payloadType} VP8/90000`,
    'a=recvonly',
    '',
  ].join('\r\n');
}

/** RTP (SDP on stdin) → raw RGB24 frames of a fixed size on stdout, lowest latency. */
export function decoderArgs({ width, height }: DecodeArgs): string[] {
  int('width', width, 2, 4096);
  int('height', height, 2, 4096);
  return [
    '-hide_banner', '-loglevel', 'error', '-nostats',
    '-protocol_whitelist', 'pipe,udp,rtp',
    '-analyzeduration', '0', '-probesize', '32',
    '-fflags', 'nobuffer', '-flags', 'low_delay',
    '-reorder_queue_size', '0',
    // Frame-threaded VP8 decoding holds frames back (one per extra thread): decode in one.
    '-threads', '1',
    '-f', 'sdp', '-i', 'pipe:0',
    '-an',
    // A fixed output size keeps the pipe framing simple even when the browser changes its
    // send resolution (bandwidth or CPU adaptation).
    '-vf', `scale=${width}:${height}:flags=fast_bilinear`,
    '-pix_fmt', 'rgb24',
    '-fps_mode', 'passthrough',
    // Without this the tail of each frame waits in ffmpeg's output buffer until the next
    // frame pushes it out: one whole frame interval of latency.
    '-flush_packets', '1',
    '-f', 'rawvideo', 'pipe:1',
  ];
}

export interface EncodeArgs {
  width: number;
  height: number;
  rtpPort: number;
  rtcpPort: number;
  ssrc: number;
  payloadType: number;
  bitrateKbps: number;
  /** Seconds between forced keyframes: ffmpeg ignores PLI, so receivers rely on this. */
  keyframeSeconds: number;
  /**
   * For this many seconds after the start keyframes come every quarter second, so receivers
   * switching to the new stream (filter on, restart after a fault) wait for one briefly.
   */
  startupKeyframeSeconds?: number;
}

/** Raw RGB24 frames on stdin → VP8 (realtime) → RTP to the processed producer's transport. */
export function encoderArgs(a: EncodeArgs): string[] {
  int('width', a.width, 2, 4096);
  int('height', a.height, 2, 4096);
  port('rtpPort', a.rtpPort);
  port('rtcpPort', a.rtcpPort);
  int('ssrc', a.ssrc, 1, 0x7fffffff);
  int('payloadType', a.payloadType, 0, 127);
  int('bitrateKbps', a.bitrateKbps, 50, 20_000);
  real('keyframeSeconds', a.keyframeSeconds, 0.1, 60);
  real('startupKeyframeSeconds', a.startupKeyframeSeconds ?? 0, 0, 60);
  return [
    '-hide_banner', '-loglevel', 'error', '-nostats',
    // Frames arrive whenever the processor finishes one; stamp them with the wall clock so
    // RTP timestamps follow real time and dropped frames do not compress time.
    '-use_wallclock_as_timestamps', '1',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${a.width}x${a.height}`,
    '-i', 'pipe:0',
    '-an',
    '-pix_fmt', 'yuv420p',
    '-c:v', 'libvpx',
    // libvpx's fastest realtime setting: 9 vs 15 ms a 480² frame at cpu-used 8, PSNR 34.32 vs
    // 34.38 dB at 1 Mb/s on talking-d6 (measured): the cores go to the editor instead.
    '-deadline', 'realtime', '-cpu-used', '16',
    '-lag-in-frames', '0', '-auto-alt-ref', '0', '-error-resilient', '1',
    // One thread: at 12 fps 640×480, 6.8 vs 13.5 ms of CPU a frame with ffmpeg's default (one
    // thread per core), whose threads also wait on each other when the editor holds the cores.
    '-threads', '1',
    '-b:v', `${a.bitrateKbps}k`, '-maxrate', `${Math.round(a.bitrateKbps * 1.5)}k`,
    '-bufsize', `${Math.round(a.bitrateKbps / 2)}k`,
    // Relative to the previous forced keyframe, so a slow processor never causes a burst.
    '-force_key_frames', `expr:if(isnan(prev_forced_t),1,gte(t-prev_forced_t,if(lt(t,${a.startupKeyframeSeconds ?? 0}),0.25,${a.keyframeSeconds})))`,
    '-fps_mode', 'passthrough',
    '-f', 'rtp', '-payload_type', String(a.payloadType), '-ssrc', String(a.ssrc),
    `rtp://127.0.0.1:${a.rtpPort}?rtcpport=${a.rtcpPort}&pkt_size=1200`,
  ];
}
