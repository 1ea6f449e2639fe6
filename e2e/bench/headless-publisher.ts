import wrtc from '@roamhq/wrtc';
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientRequest, FilterSettingsPatch, StreamInfo } from '@portrait-edit/shared';
import { readStamp, STAMP_BITS, writeStamp } from './frame-stamp.js';

const STAMPS = 1 << STAMP_BITS;
/** When each stamped frame was handed to libwebrtc, per publishing peer (same process, same clock). */
export const sentAt = new Map<string, Float64Array>();

// mediasoup-client's Chrome handler drives whatever RTCPeerConnection is global: libwebrtc's,
// through @roamhq/wrtc, so the bench publishes over real WebRTC (ICE, DTLS-SRTP, VP8).
Object.assign(globalThis, {
  RTCPeerConnection: wrtc.RTCPeerConnection,
  RTCSessionDescription: wrtc.RTCSessionDescription,
  RTCIceCandidate: wrtc.RTCIceCandidate,
  MediaStream: wrtc.MediaStream,
  MediaStreamTrack: wrtc.MediaStreamTrack,
});

export interface I420Clip {
  width: number;
  height: number;
  frames: Uint8Array[];
}

/** A participant without a browser: publishes a real clip as a webcam would, at a fixed rate. */
export class HeadlessPublisher {
  private socket: Socket;
  private device = new Device({ handlerName: 'Chrome111' });
  private transport: types.Transport | null = null;
  private timer: NodeJS.Timeout | null = null;
  private track: MediaStreamTrack | null = null;
  peerId = '';

  private constructor(url: string, token: string) {
    this.socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  }

  static async start(url: string, token: string, name: string, clip: I420Clip, fps: number): Promise<HeadlessPublisher> {
    const p = new HeadlessPublisher(url, token);
    await p.join(name, clip, fps);
    return p;
  }

  private request<T>(msg: ClientRequest): Promise<T> {
    return this.socket.timeout(10_000).emitWithAck('request', msg).then((r: Ack<T>) => {
      if (!r.ok) throw new Error(`${msg.type}: ${r.error.code} ${r.error.message}`);
      return r.data;
    });
  }

  private async join(name: string, clip: I420Clip, fps: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    const caps = await this.request<types.RtpCapabilities>({ type: 'getRouterRtpCapabilities' });
    await this.device.load({ routerRtpCapabilities: caps });
    const joined = await this.request<{ peerId: string }>({ type: 'join', displayName: name, rtpCapabilities: this.device.rtpCapabilities as never });
    this.peerId = joined.peerId;
    const params = await this.request<types.TransportOptions>({ type: 'createTransport', direction: 'send' });
    const t = this.device.createSendTransport(params);
    this.transport = t;
    t.on('connect', ({ dtlsParameters }, cb, errb) => {
      this.request({ type: 'connectTransport', transportId: t.id, dtlsParameters: dtlsParameters as never }).then(() => cb(), errb);
    });
    t.on('produce', ({ kind, rtpParameters }, cb, errb) => {
      this.request<{ producerId: string }>({
        type: 'produce',
        transportId: t.id,
        kind,
        rtpParameters: rtpParameters as never,
        videoSize: { width: clip.width, height: clip.height },
      }).then(({ producerId }) => cb({ id: producerId }), errb);
    });
    const source = new wrtc.nonstandard.RTCVideoSource();
    this.track = source.createTrack();
    let i = 0;
    const times = new Float64Array(STAMPS);
    sentAt.set(this.peerId, times);
    this.timer = setInterval(() => {
      const data = clip.frames[i % clip.frames.length].slice();
      writeStamp(data, clip.width, i % STAMPS);
      times[i % STAMPS] = performance.now();
      i++;
      source.onFrame({ width: clip.width, height: clip.height, data });
    }, 1000 / fps);
    await t.produce({ track: this.track, encodings: [{ maxBitrate: 1_200_000 }] });
  }

  setFilter(patch: FilterSettingsPatch): Promise<unknown> {
    return this.request({ type: 'setFilter', settings: patch });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.track?.stop();
    this.transport?.close();
    this.socket.close();
  }
}

/**
 * A participant that only watches: consumes every announced video (keeping the raw consumer
 * when the processed one arrives, so both are measured side by side) and reads the frame
 * stamps to time each frame from send to receive.
 */
export class HeadlessReceiver {
  private socket: Socket;
  private device = new Device({ handlerName: 'Chrome111' });
  private transport: types.Transport | null = null;
  /** Latency samples (ms) per "peerId:raw" / "peerId:processed". */
  readonly samples = new Map<string, number[]>();
  /**
   * Processed frames' centre colour (mean Y, U, V of the middle eighth) with their arrival
   * time (Date.now() ms), per peer: when a new style reached the receiver (the switch bench).
   */
  readonly colours = new Map<string, number[][]>();
  private sinks: { stop(): void }[] = [];

  constructor(url: string, token: string) {
    this.socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  }

  private request<T>(msg: ClientRequest): Promise<T> {
    return this.socket.timeout(10_000).emitWithAck('request', msg).then((r: Ack<T>) => {
      if (!r.ok) throw new Error(`${msg.type}: ${r.error.code} ${r.error.message}`);
      return r.data;
    });
  }

  async join(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    const caps = await this.request<types.RtpCapabilities>({ type: 'getRouterRtpCapabilities' });
    await this.device.load({ routerRtpCapabilities: caps });
    this.socket.on('streamAvailable', (info: StreamInfo) => {
      if (info.kind === 'video') void this.consume(info).catch((e) => console.error('receiver:', e.message));
    });
    const joined = await this.request<{ streams: StreamInfo[] }>({ type: 'join', displayName: 'bench-receiver', rtpCapabilities: this.device.rtpCapabilities as never });
    const params = await this.request<types.TransportOptions>({ type: 'createTransport', direction: 'recv' });
    const t = this.device.createRecvTransport(params);
    t.on('connect', ({ dtlsParameters }, cb, errb) => {
      this.request({ type: 'connectTransport', transportId: t.id, dtlsParameters: dtlsParameters as never }).then(() => cb(), errb);
    });
    this.transport = t;
    for (const s of joined.streams) if (s.kind === 'video') await this.consume(s);
  }

  private async consume(info: StreamInfo): Promise<void> {
    while (!this.transport) await new Promise((r) => setTimeout(r, 50));
    const r = await this.request<{ consumerId: string; producerId: string; kind: 'video'; rtpParameters: types.RtpParameters }>({
      type: 'consume',
      transportId: this.transport.id,
      producerId: info.producerId,
    });
    const consumer = await this.transport.consume({ id: r.consumerId, producerId: r.producerId, kind: r.kind, rtpParameters: r.rtpParameters });
    await this.request({ type: 'resumeConsumer', consumerId: consumer.id });
    const key = `${info.peerId}:${info.processed ? 'processed' : 'raw'}`;
    const out: number[] = [];
    this.samples.set(key, out);
    const sink = new wrtc.nonstandard.RTCVideoSink(consumer.track);
    let last = -1;
    const colours: number[][] = [];
    if (info.processed) this.colours.set(info.peerId, colours);
    sink.onframe = ({ frame }: { frame: { width: number; height: number; data: Uint8Array } }) => {
      const now = performance.now();
      if (info.processed && colours.length < 100_000) colours.push([Date.now(), ...centreColour(frame)]);
      const v = readStamp(frame.data, frame.width);
      if (v < 0 || v === last) return;
      last = v;
      const sent = sentAt.get(info.peerId)?.[v];
      if (sent && now - sent < 5000) out.push(now - sent);
    };
    this.sinks.push(sink);
  }

  /** Take the centre colours gathered so far and start afresh. */
  drainColours(): Record<string, number[][]> {
    const o: Record<string, number[][]> = {};
    for (const [k, v] of this.colours) o[k] = v.splice(0);
    return o;
  }

  /** Take the samples gathered so far and start afresh. */
  drain(): Record<string, number[]> {
    const o: Record<string, number[]> = {};
    for (const [k, v] of this.samples) o[k] = v.splice(0);
    return o;
  }

  close(): void {
    for (const s of this.sinks) s.stop();
    this.transport?.close();
    this.socket.close();
  }
}

/** Mean Y, U, V of an I420 frame's middle eighth (where the face is in the bench clip). */
function centreColour(f: { width: number; height: number; data: Uint8Array }): [number, number, number] {
  const { width: w, height: h, data } = f;
  const cw = w >> 1;
  const ch = h >> 1;
  const x0 = (w * 7) >> 4;
  const x1 = (w * 9) >> 4;
  const y0 = (h * 7) >> 4;
  const y1 = (h * 9) >> 4;
  let ys = 0;
  let us = 0;
  let vs = 0;
  let n = 0;
  for (let y = y0; y < y1; y += 2) {
    for (let x = x0; x < x1; x += 2) {
      ys += data[y * w + x];
      const c = (y >> 1) * cw + (x >> 1);
      us += data[w * h + c];
      vs += data[w * h + cw * ch + c];
      n++;
    }
  }
  return [ys / n, us / n, vs / n];
}
