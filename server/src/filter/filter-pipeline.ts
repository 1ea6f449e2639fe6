import { EventEmitter } from 'node:events';
import crypto from 'node:crypto';
import type { types } from 'mediasoup';
import type { FilterStats } from '@portrait-edit/shared';
import type { Frame, ProcessContext } from '@portrait-edit/models';
import { PROCESSED_VP8_PT } from '../media/media-codecs.js';
import type { FilterWorker, FilterWorkerPool } from './filter-worker-pool.js';
import type { FrameLoopStats } from './frame-loop.js';
import type { PortAllocator } from './port-allocator.js';
import { RollingSamples, TimeMatcher } from './rolling-stats.js';
import { nowAbs, TICK_MS, type FromWorker, type PromptSwitchTimes, type WorkerSettings, type WorkerTick } from './worker-protocol.js';
import { PLAYOUT_DELAY_EXTENSION } from './playout-delay-relay.js';

export interface FilterPipelineOptions {
  router: types.Router;
  /** The participant's raw webcam producer. */
  source: types.Producer;
  peerId: string;
  width: number;
  height: number;
  /** Processor name (processor-registry); the worker creates it. */
  processor: string;
  /** Where the pipeline's worker process comes from. */
  workers: FilterWorkerPool;
  /** Settings (and reference image) in force; read at start and on noteSettingsChange(). */
  context: () => ProcessContext;
  ports: PortAllocator;
  ffmpegPath: string;
  bitrateKbps?: number;
  /** A worker silent for this long is taken as hung, killed, and the pipeline fails (1000). */
  heartbeatMs?: number;
}

type State = FilterStats['state'];

/** A decoder silent this long (ms) after its first frame gets a keyframe requested. */
const STALL_KEYFRAME_MS = 1000;

/**
 * Per-frame timing for benchmarks ('frame') and each pipeline's milestones for recovery
 * timelines ('lifecycle', PipelineMilestone; keyframeIn = one of the first three keyframes sent
 * to the decoder); emitted only while someone listens.
 */
export const pipelineEvents = new EventEmitter();

export type PipelineMilestone = 'acquire' | 'worker' | 'start' | 'listening' | 'keyframeIn' | 'firstFrame' | 'ready' | 'failed';
export interface PipelineLifecycleEvent {
  peerId: string;
  what: PipelineMilestone;
  /** Date.now() when it happened. */
  at: number;
  detail?: string;
}

/** What one pipeline holds, for leak checks and fault tests. */
export interface PipelineResources {
  peerId: string;
  state: State;
  port: number;
  workerPid: number | null;
  decoderPid: number | null;
  encoderPid: number | null;
  /** Every live process of this pipeline: the worker and its ffmpeg children. */
  pids: number[];
}

/**
 * One filtered video track. The SFU side (this class): a Consumer on a PlainTransport sends
 * the raw RTP to a decoder port, and a Producer on another PlainTransport takes the encoder's
 * RTP. The frame side runs in a filter worker process (filter-worker.ts): ffmpeg decode →
 * raw frames → FrameLoop(processor) → ffmpeg VP8 encode. A worker that crashes, exits or
 * stops answering fails the pipeline, and only this pipeline.
 *
 * Events: 'ready' (processed producer sent its first keyframe: safe to switch receivers to
 * it), 'failed' (reason; teardown has begun, close() resolves when it is done).
 */
export class FilterPipeline extends EventEmitter {
  state: State = 'starting';
  producer: types.Producer | null = null;
  private consumeTransport: types.PlainTransport | null = null;
  private produceTransport: types.PlainTransport | null = null;
  private consumer: types.Consumer | null = null;
  private worker: FilterWorker | null = null;
  private decoderPid: number | null = null;
  private encoderPid: number | null = null;
  private port = -1;
  private keyframeTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private lastCheck = 0;
  private hung = false;
  private firstFrameSeen = false;
  private readonly decodeMs = new RollingSamples(64);
  private readonly encodeMs = new RollingSamples(64);
  /** Per-frame decode + loop + encode, matched frame by frame. */
  private readonly addedMs = new RollingSamples(128);
  private readonly recentIn = new Float64Array(32);
  private readonly recentDecode = new Float64Array(32);
  private recentI = 0;
  /** Last RTP packet of a frame at the consumer → the frame out of the decoder (worker). */
  private readonly decodeMatch = new TimeMatcher((s, _p, e) => this.onDecodeMatched(s, e), 1000, 32, 'latest');
  /** Frame into the encoder (worker) → its last RTP packet at the processed producer. */
  private readonly encodeMatch = new TimeMatcher((s, p, e) => this.onEncodeMatched(s, p, e));
  private loopStats: FrameLoopStats | null = null;
  private lastSwitchMs: number | null = null;
  private editsPerSec: number | null = null;
  private lastEdits: { n: number; at: number } | null = null;
  private lastPromptSwitch: PromptSwitchTimes | null = null;
  /** When the decoder last produced a frame, and keyframes asked for because it went silent. */
  private lastDecodedAt = 0;
  private lastStallKeyframe = 0;
  stallKeyframes = 0;
  private thumbnailSeq = 0;
  private readonly thumbnailWaits = new Map<number, (m: Extract<FromWorker, { type: 'thumbnails' }>) => void>();
  private closing: Promise<void> | null = null;
  private failureReason: string | null = null;
  private lastReference: Frame | undefined = undefined;
  private processorName: string;

  constructor(private readonly o: FilterPipelineOptions) {
    super();
    this.processorName = o.processor;
  }

  private milestone(what: PipelineMilestone, detail?: string): void {
    if (pipelineEvents.listenerCount('lifecycle')) pipelineEvents.emit('lifecycle', { peerId: this.o.peerId, what, at: Date.now(), detail } satisfies PipelineLifecycleEvent);
  }

  async start(): Promise<void> {
    const { router, width, height } = this.o;
    // The worker (a warm spare, normally) is fetched while mediasoup sets up the transports.
    this.milestone('acquire');
    const acquiring = this.o.workers.acquire(this.o.processor);
    acquiring.catch(() => {}); // awaited below; a rejection meanwhile must not go unhandled
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
          // Added by the filter worker's relay; receivers render each frame once decoded.
          headerExtensions: [PLAYOUT_DELAY_EXTENSION],
        },
        appData: { peerId: this.o.peerId, processed: true },
      });

      await this.consumer.enableTraceEvent(['rtp', 'keyframe']);
      let keyframes = 0;
      this.consumer.on('trace', (ev) => {
        if (ev.type === 'rtp') {
          if (isMarker(ev.info)) this.decodeMatch.start(traceTime(ev.timestamp));
        } else if (ev.type === 'keyframe' && keyframes++ < 3) this.milestone('keyframeIn');
      });
      await this.producer.enableTraceEvent(['rtp', 'keyframe']);
      this.producer.on('trace', (ev) => {
        if (ev.type === 'rtp') {
          if (isMarker(ev.info)) this.encodeMatch.end(traceTime(ev.timestamp));
        } else if (ev.type === 'keyframe' && this.state === 'starting') {
          this.state = 'running';
          this.milestone('ready');
          this.emit('ready');
        }
      });
      this.consumer.on('producerclose', () => void this.close());

      const worker = await acquiring;
      this.worker = worker;
      this.milestone('worker', `pid ${worker.pid}`);
      if (this.closing) {
        void worker.stop(0);
        return;
      }
      worker.on('message', (m: FromWorker) => this.onWorkerMessage(m));
      worker.once('died', (code: number | null, signal: string | null) => {
        if (!this.closing) this.fail(`filter worker exited unexpectedly (pid ${worker.pid}, ${signal ?? `code ${code}`})`);
      });
      if (worker.exited) this.fail(`filter worker exited before it started (pid ${worker.pid})`);
      if (this.closing) return;
      this.lastHeard = nowAbs();
      this.lastCheck = this.lastHeard;
      this.heartbeatTimer = setInterval(() => this.checkHeartbeat(), TICK_MS);
      this.milestone('start');
      worker.send({
        type: 'start',
        width,
        height,
        ffmpegPath: this.o.ffmpegPath,
        decoder: { port: this.port, payloadType: pt },
        encoder: {
          width,
          height,
          rtpPort: this.produceTransport.tuple.localPort,
          rtcpPort: this.produceTransport.rtcpTuple!.localPort,
          ssrc,
          payloadType: PROCESSED_VP8_PT,
          bitrateKbps: this.o.bitrateKbps ?? 1000,
          keyframeSeconds: 1,
          startupKeyframeSeconds: 3,
        },
        ctx: this.workerSettings(),
      });

      await this.consumer.resume();
      // ffmpeg may not be listening yet when the first keyframe request goes out, and it
      // cannot ask for one itself: keep asking until the first frame is decoded.
      await this.consumer.requestKeyFrame();
      if (!this.closing && !this.firstFrameSeen) {
        this.keyframeTimer = setInterval(() => {
          if (this.consumer && !this.consumer.closed) void this.consumer.requestKeyFrame().catch(() => {});
        }, 500);
      }
    } catch (err) {
      if (!this.worker) void acquiring.then((w) => w.stop(0), () => {});
      this.fail(`could not start the filter: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  private onWorkerMessage(m: FromWorker): void {
    this.lastHeard = nowAbs();
    switch (m.type) {
      case 'tick':
        this.onTick(m);
        return;
      case 'pids':
        this.decoderPid = m.decoder;
        this.encoderPid = m.encoder;
        return;
      case 'decoderListening':
        this.milestone('listening');
        // The first keyframe request may have gone out before ffmpeg listened: ask again now.
        if (!this.firstFrameSeen && this.consumer && !this.consumer.closed) void this.consumer.requestKeyFrame().catch(() => {});
        return;
      case 'firstFrame':
        this.milestone('firstFrame');
        this.firstFrameSeen = true;
        this.lastDecodedAt = m.at;
        if (this.keyframeTimer) clearInterval(this.keyframeTimer);
        this.keyframeTimer = null;
        return;
      case 'failed':
        this.fail(m.reason);
        return;
      case 'thumbnails':
        this.thumbnailWaits.get(m.id)?.(m);
        return;
      default:
        return;
    }
  }

  private onTick(m: WorkerTick): void {
    this.loopStats = m.loop;
    if (m.lastSwitchMs !== null) this.lastSwitchMs = m.lastSwitchMs;
    if (m.edits === null) this.editsPerSec = null;
    else {
      const last = this.lastEdits;
      if (last && m.at > last.at && m.edits >= last.n) this.editsPerSec = ((m.edits - last.n) * 1000) / (m.at - last.at);
      this.lastEdits = { n: m.edits, at: m.at };
    }
    if (m.promptSwitch) this.lastPromptSwitch = m.promptSwitch;
    if (m.decoded.length > 0) this.lastDecodedAt = m.decoded[m.decoded.length - 1];
    for (let i = 0; i < m.decoded.length; i++) this.decodeMatch.end(m.decoded[i]);
    for (let i = 0; i + 1 < m.encoded.length; i += 2) {
      const tIn = m.encoded[i];
      const tOut = m.encoded[i + 1];
      // Carry decode + loop time with the frame so the encoder's packet completes its total.
      this.encodeMatch.start(tOut, this.decodeMsOf(tIn) + (tOut - tIn));
    }
  }

  private onDecodeMatched(start: number, end: number): void {
    const ms = end - start;
    this.decodeMs.add(ms);
    this.recentIn[this.recentI] = end;
    this.recentDecode[this.recentI] = ms;
    this.recentI = (this.recentI + 1) % this.recentIn.length;
  }

  private onEncodeMatched(start: number, payload: number, end: number): void {
    const ms = end - start;
    this.encodeMs.add(ms);
    const total = ms + payload;
    this.addedMs.add(total);
    if (pipelineEvents.listenerCount('frame')) pipelineEvents.emit('frame', { peerId: this.o.peerId, addedMs: total, encodeMs: ms });
  }

  /** Decode time of the frame that left the decoder at tIn (a few recent ones are kept). */
  private decodeMsOf(tIn: number): number {
    for (let i = 0; i < this.recentIn.length; i++) if (this.recentIn[i] === tIn) return this.recentDecode[i];
    return 0;
  }

  private checkHeartbeat(): void {
    const now = nowAbs();
    const late = now - this.lastCheck > TICK_MS * 4;
    this.lastCheck = now;
    // If this process itself was stalled, the worker's messages may still be queued: give them
    // a chance before judging the worker.
    if (late) return;
    const limit = this.o.heartbeatMs ?? this.o.workers.heartbeatMs;
    // A silent worker still using CPU is slow, not stuck: it gets longer (FilterWorker.hung).
    if (this.worker ? this.worker.hung(now - this.lastHeard, limit) : now - this.lastHeard > limit) {
      this.hung = true;
      this.fail(`filter worker stopped answering (no report for ${Math.round(now - this.lastHeard)} ms); killed`);
      return;
    }
    // Packets lost on the way to the decoder (a starved machine lets its UDP buffer overflow)
    // leave VP8 without a reference: ffmpeg then decodes nothing until the next keyframe, and
    // it cannot ask for one itself. A decoder silent for a second gets one asked for it.
    if (this.firstFrameSeen && this.consumer && !this.consumer.closed && now - this.lastDecodedAt > STALL_KEYFRAME_MS && now - this.lastStallKeyframe > STALL_KEYFRAME_MS) {
      this.lastStallKeyframe = now;
      this.stallKeyframes++;
      void this.consumer.requestKeyFrame().catch(() => {});
    }
  }

  private workerSettings(): WorkerSettings {
    const c = this.o.context();
    const s: WorkerSettings = { peerId: c.peerId, settings: c.settings };
    // The reference image (up to 512² RGB) crosses the process boundary only when it changes.
    if (c.reference !== this.lastReference) {
      s.reference = c.reference ?? null;
      this.lastReference = c.reference;
    }
    return s;
  }

  /** Sends the new settings to the worker (used from its next frame); the stats report how long they took to show. */
  noteSettingsChange(): void {
    if (!this.worker || this.closing) return; // start() sends the settings in force
    this.worker.send({ type: 'settings', ctx: this.workerSettings(), at: nowAbs() });
  }

  /**
   * Presets applied by the worker's processor to this stream's last face, as JPEG data URLs
   * (the panel's gallery). Rejects when the processor cannot, the worker is busy elsewhere or
   * takes longer than `timeoutMs`.
   */
  thumbnails(presets: string[], timeoutMs = 30_000): Promise<Record<string, string>> {
    const worker = this.worker;
    if (!worker || this.closing || this.state !== 'running') return Promise.reject(new Error('the filter is not running'));
    const id = ++this.thumbnailSeq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.thumbnailWaits.delete(id);
        reject(new Error('previews took too long'));
      }, timeoutMs);
      this.thumbnailWaits.set(id, (m) => {
        clearTimeout(timer);
        this.thumbnailWaits.delete(id);
        if (m.images) resolve(m.images);
        else reject(new Error(m.reason ?? 'no previews'));
      });
      worker.send({ type: 'thumbnails', id, presets });
    });
  }

  private fail(reason: string): void {
    if (this.closing) return;
    this.failureReason = reason;
    this.state = 'failed';
    this.milestone('failed', reason);
    void this.close();
    // Receivers go back to the raw stream now, while the teardown goes on.
    this.emit('failed', reason);
  }

  stats(): FilterStats {
    const l = this.loopStats;
    return {
      peerId: this.o.peerId,
      state: this.state,
      width: this.o.width,
      height: this.o.height,
      fpsIn: round(l?.fpsIn ?? 0),
      fpsOut: round(l?.fpsOut ?? 0),
      dropped: l?.dropped ?? 0,
      decodeMs: roundN(this.decodeMs.median()),
      processMs: roundN(l?.processMs ?? null),
      encodeMs: roundN(this.encodeMs.median()),
      addedLatencyMs: roundN(this.addedMs.median()),
      addedLatencyP95Ms: roundN(this.addedMs.quantile(0.95)),
      processor: this.processorName,
      passthroughReason: this.failureReason ?? (l ? l.passthroughReason : 'starting'),
      editsPerSec: this.editsPerSec === null ? null : round(this.editsPerSec),
      lastSwitchMs: roundN(this.lastSwitchMs),
      lastPromptSwitch: promptSwitchStats(this.lastPromptSwitch),
    };
  }

  /** Resources this pipeline holds, for leak checks. */
  resources(): PipelineResources {
    const w = this.worker && !this.worker.exited ? this.worker : null;
    const pids = [...(w ? [w.pid] : []), ...(this.worker ? this.worker.ffmpegPids : [])];
    return {
      peerId: this.o.peerId,
      state: this.state,
      port: this.port,
      workerPid: w?.pid ?? null,
      decoderPid: this.decoderPid,
      encoderPid: this.encoderPid,
      pids,
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.state !== 'failed') this.state = 'stopped';
    if (this.keyframeTimer) clearInterval(this.keyframeTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.consumeTransport?.close();
    this.produceTransport?.close();
    // A hung worker is killed at once; otherwise it stops its ffmpeg children and exits.
    await this.worker?.stop(this.hung ? 0 : 1500);
    if (this.port >= 0) this.o.ports.release(this.port);
    this.port = -1;
  }
}

/**
 * mediasoup stamps trace events with its worker's uv_hrtime in whole ms (CLOCK_MONOTONIC, the
 * clock under Node's performance.now()); this maps them onto nowAbs(). Using when the packet
 * passed mediasoup, not when the event reached this process, keeps the SFU's own event-loop
 * delays out of the decode and encode times.
 */
const MONOTONIC_TO_ABS = nowAbs() - Number(process.hrtime.bigint()) / 1e6;
function traceTime(timestamp: number | undefined): number {
  return typeof timestamp === 'number' && Number.isFinite(timestamp) ? timestamp + 0.5 + MONOTONIC_TO_ABS : nowAbs();
}

function isMarker(info: unknown): boolean {
  const p = (info as { rtpPacket?: { marker?: boolean } } | undefined)?.rtpPacket;
  return p?.marker === true;
}

function promptSwitchStats(p: PromptSwitchTimes | null): FilterStats['lastPromptSwitch'] {
  if (!p) return null;
  return { seq: p.seq, encodeMs: round(p.readyAt - p.requestedAt), readyToFrameMs: round(p.shownAt - p.readyAt), readyAt: p.readyAt, shownAt: p.shownAt };
}

const round = (v: number) => Math.round(v * 10) / 10;
const roundN = (v: number | null) => (v === null ? null : round(v));
