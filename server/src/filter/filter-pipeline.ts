import { EventEmitter } from 'node:events';
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { FilterStats } from '@portrait-edit/shared';
import type { FrameProcessor, ProcessContext } from '@portrait-edit/models';
import { PROCESSED_VP8_PT } from '../media/media-codecs.js';
import { decoderArgs, decoderSdp, encoderArgs } from './ffmpeg-args.js';
import { spawnFfmpeg, stopFfmpeg } from './ffmpeg-process.js';
import { FrameLoop } from './frame-loop.js';
import type { PortAllocator } from './port-allocator.js';
import { FifoTimer, RollingSamples } from './rolling-stats.js';

export interface FilterPipelineOptions {
  router: types.Router;
  /** The participant's raw webcam producer. */
  source: types.Producer;
  peerId: string;
  width: number;
  height: number;
  processor: FrameProcessor;
  context: () => ProcessContext;
  ports: PortAllocator;
  ffmpegPath: string;
  bitrateKbps?: number;
}

type State = FilterStats['state'];

/** Per-frame timing for benchmarks; emitted only while someone listens. */
export const pipelineEvents = new EventEmitter();

/**
 * One filtered video track: Consumer on a PlainTransport → RTP → ffmpeg decode → raw frames →
 * FrameLoop(processor) → ffmpeg VP8 encode → RTP → Producer on a PlainTransport.
 *
 * Events: 'ready' (processed producer sent its first keyframe: safe to switch receivers to
 * it), 'failed' (reason; everything is already torn down).
 */
export class FilterPipeline extends EventEmitter {
  state: State = 'starting';
  producer: types.Producer | null = null;
  private consumeTransport: types.PlainTransport | null = null;
  private produceTransport: types.PlainTransport | null = null;
  private consumer: types.Consumer | null = null;
  private decoder: ReturnType<typeof spawnFfmpeg> | null = null;
  private encoder: ReturnType<typeof spawnFfmpeg> | null = null;
  private loop: FrameLoop | null = null;
  private port = -1;
  private keyframeTimer: NodeJS.Timeout | null = null;
  private readonly decodeTimer = new FifoTimer();
  private readonly encodeTimer = new FifoTimer();
  private readonly decodeMs = new RollingSamples(64);
  private readonly encodeMs = new RollingSamples(64);
  /** Per-frame decode + loop + encode, matched frame by frame. */
  private readonly addedMs = new RollingSamples(128);
  private readonly recentIn = new Float64Array(8);
  private readonly recentDecode = new Float64Array(8);
  private recentI = 0;
  private closing: Promise<void> | null = null;
  private failureReason: string | null = null;
  private settingsChangedAt: number | null = null;
  private lastSwitchMs: number | null = null;
  private switchFrameStarted: number | null = null;

  constructor(private readonly o: FilterPipelineOptions) {
    super();
  }

  async start(): Promise<void> {
    const { router, width, height } = this.o;
    try {
      this.port = await this.o.ports.allocatePair();
      const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };

      this.consumeTransport = await router.createPlainTransport({ listenInfo, rtcpMux: false, comedia: false });
      await this.consumeTransport.connect({ ip: '127.0.0.1', port: this.port, rtcpPort: this.port + 1 });
      this.consumer = await this.consumeTransport.consume({
        producerId: this.o.source.id,
        rtpCapabilities: router.rtpCapabilities,
        paused: true,
      });
      const pt = this.consumer.rtpParameters.codecs[0].payloadType;

      this.produceTransport = await router.createPlainTransport({ listenInfo, rtcpMux: false, comedia: true });
      // ffmpeg parses -ssrc as a signed 32-bit int.
      const ssrc = crypto.randomInt(1, 0x7fffffff);
      this.producer = await this.produceTransport.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [{ mimeType: 'video/VP8', payloadType: PROCESSED_VP8_PT, clockRate: 90000 }],
          encodings: [{ ssrc }],
        },
        appData: { peerId: this.o.peerId, processed: true },
      });

      this.encoder = spawnFfmpeg(
        this.o.ffmpegPath,
        encoderArgs({
          width,
          height,
          rtpPort: this.produceTransport.tuple.localPort,
          rtcpPort: this.produceTransport.rtcpTuple!.localPort,
          ssrc,
          payloadType: PROCESSED_VP8_PT,
          bitrateKbps: this.o.bitrateKbps ?? 1000,
          keyframeSeconds: 1,
        }),
      );
      this.loop = new FrameLoop({
        width,
        height,
        processor: this.o.processor,
        context: () => {
          // The first frame that starts after a settings change is the one that shows it.
          if (this.settingsChangedAt !== null && this.switchFrameStarted === null) this.switchFrameStarted = this.settingsChangedAt;
          return this.o.context();
        },
        output: this.encoder.child.stdin,
        onFrameIn: (t) => this.onDecoded(t),
        onFrameOut: (t, tIn) => {
          // Carry decode + loop time with the frame so the encoder's packet completes its total.
          this.encodeTimer.start(t, this.decodeMsOf(tIn) + (t - tIn));
          if (this.switchFrameStarted !== null) {
            this.lastSwitchMs = t - this.switchFrameStarted;
            this.switchFrameStarted = null;
            this.settingsChangedAt = null;
          }
        },
      });

      this.decoder = spawnFfmpeg(this.o.ffmpegPath, decoderArgs({ width, height }));
      this.decoder.child.stdin.end(decoderSdp(this.port, pt));
      const loop = this.loop;
      this.decoder.child.stdout.on('data', (chunk: Buffer) => loop.push(chunk));

      for (const [name, p] of [['decoder', this.decoder], ['encoder', this.encoder]] as const) {
        void p.exited.then((code) => {
          if (this.closing) return;
          this.fail(`ffmpeg ${name} exited (${code}): ${p.stderrTail() || 'no message'}`);
        });
      }

      await this.consumer.enableTraceEvent(['rtp']);
      this.consumer.on('trace', (ev) => {
        if (ev.type === 'rtp' && isMarker(ev.info)) this.decodeTimer.start();
      });
      await this.producer.enableTraceEvent(['rtp', 'keyframe']);
      this.producer.on('trace', (ev) => {
        if (ev.type === 'rtp') {
          if (isMarker(ev.info)) {
            const ms = this.encodeTimer.end();
            if (ms !== null) {
              this.encodeMs.add(ms);
              const total = ms + this.encodeTimer.lastPayload;
              this.addedMs.add(total);
              if (pipelineEvents.listenerCount('frame')) pipelineEvents.emit('frame', { peerId: this.o.peerId, addedMs: total, encodeMs: ms });
            }
          }
        } else if (ev.type === 'keyframe' && this.state === 'starting') {
          this.state = 'running';
          this.emit('ready');
        }
      });
      this.consumer.on('producerclose', () => void this.close());

      await this.consumer.resume();
      // ffmpeg may not be listening yet when the first keyframe request goes out, and it
      // cannot ask for one itself: keep asking until the first frame is decoded.
      await this.consumer.requestKeyFrame();
      this.keyframeTimer = setInterval(() => {
        if (this.consumer && !this.consumer.closed) void this.consumer.requestKeyFrame().catch(() => {});
      }, 500);
    } catch (err) {
      this.fail(`could not start the filter: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  private onDecoded(t: number): void {
    if (this.keyframeTimer) {
      clearInterval(this.keyframeTimer);
      this.keyframeTimer = null;
    }
    const ms = this.decodeTimer.end(t);
    if (ms !== null) this.decodeMs.add(ms);
    this.recentIn[this.recentI] = t;
    this.recentDecode[this.recentI] = ms ?? 0;
    this.recentI = (this.recentI + 1) % this.recentIn.length;
  }

  /** Decode time of the frame that left the decoder at tIn (a few recent ones are kept). */
  private decodeMsOf(tIn: number): number {
    for (let i = 0; i < this.recentIn.length; i++) if (this.recentIn[i] === tIn) return this.recentDecode[i];
    return 0;
  }

  /** Marks a settings change so the stats can report how long it took to show up. */
  noteSettingsChange(): void {
    this.settingsChangedAt = performance.now();
    this.switchFrameStarted = null;
  }

  private fail(reason: string): void {
    if (this.closing) return;
    this.failureReason = reason;
    void this.close().then(() => {
      this.state = 'failed';
      this.emit('failed', reason);
    });
  }

  stats(): FilterStats {
    const l = this.loop?.stats();
    const decode = this.decodeMs.median();
    const encode = this.encodeMs.median();
    const added = this.addedMs.median();
    return {
      peerId: this.o.peerId,
      state: this.state,
      width: this.o.width,
      height: this.o.height,
      fpsIn: round(l?.fpsIn ?? 0),
      fpsOut: round(l?.fpsOut ?? 0),
      dropped: l?.dropped ?? 0,
      decodeMs: roundN(decode),
      processMs: roundN(l?.processMs ?? null),
      encodeMs: roundN(encode),
      addedLatencyMs: roundN(added),
      addedLatencyP95Ms: roundN(this.addedMs.quantile(0.95)),
      processor: this.o.processor.name,
      passthroughReason: this.failureReason ?? (l ? l.passthroughReason : 'starting'),
      lastSwitchMs: roundN(this.lastSwitchMs),
    };
  }

  /** Resources this pipeline holds, for leak checks. */
  resources(): { pids: number[]; port: number } {
    const pids = [this.decoder?.child.pid, this.encoder?.child.pid].filter((p): p is number => p !== undefined);
    return { pids, port: this.port };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.state !== 'failed') this.state = 'stopped';
    if (this.keyframeTimer) clearInterval(this.keyframeTimer);
    this.loop?.close();
    this.consumeTransport?.close();
    this.produceTransport?.close();
    await Promise.all([this.decoder && stopFfmpeg(this.decoder), this.encoder && stopFfmpeg(this.encoder)]);
    if (this.port >= 0) this.o.ports.release(this.port);
    this.port = -1;
    try {
      await this.o.processor.close?.();
    } catch {
      // A processor failing to close must not keep the pipeline's resources alive.
    }
  }
}

function isMarker(info: unknown): boolean {
  const p = (info as { rtpPacket?: { marker?: boolean } } | undefined)?.rtpPacket;
  return p?.marker === true;
}

const round = (v: number) => Math.round(v * 10) / 10;
const roundN = (v: number | null) => (v === null ? null : round(v));
