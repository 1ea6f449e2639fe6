import type { types } from 'mediasoup';
import type { FilterStats, StreamInfo } from '@portrait-edit/shared';
import type { ServerConfig } from '../config.js';
import type { Peer } from '../peer.js';
import { FilterPipeline, type PipelineResources } from './filter-pipeline.js';
import type { FilterWorkerPool } from './filter-worker-pool.js';
import type { PortAllocator } from './port-allocator.js';

export interface FilterControllerDeps {
  router: types.Router;
  config: ServerConfig;
  ports: PortAllocator;
  /** Filter worker processes (one per running pipeline, plus a warm spare). */
  workers: FilterWorkerPool;
  /** Shared count of running pipelines on this machine, for the cap. */
  slots: { used: number };
  /** Tell the room which producer now carries this peer's video. */
  announce: (s: StreamInfo) => void;
  notice: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Decoded reference image for an image prompt's upload id. */
  resolveReference?: (uploadId: string) => import('@portrait-edit/models').Frame | undefined;
}

/** How long the old pipeline keeps running after receivers were told to switch away from it. */
const SWITCH_GRACE_MS = 2500;
const MAX_RESTARTS = 3;

/**
 * Owns one peer's filter pipeline: starts it when the peer enables the filter, switches
 * receivers to the processed producer once it has sent a keyframe, switches them back to the
 * raw producer when the filter is turned off or fails (restarting a failed one a few times).
 * Receivers never see a gap: the raw stream stays announced until the processed one is live.
 */
export class FilterController {
  private pipeline: FilterPipeline | null = null;
  private starting = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastFailure: string | null = null;
  private announcedProcessed = false;

  constructor(private readonly peer: Peer, private readonly d: FilterControllerDeps) {}

  /** The stream other participants should consume for this peer's video. */
  currentVideo(): StreamInfo | null {
    const raw = this.peer.rawVideo;
    if (!raw) return null;
    if (this.announcedProcessed && this.pipeline?.producer && this.pipeline.state === 'running') {
      return { peerId: this.peer.id, kind: 'video', producerId: this.pipeline.producer.id, processed: true };
    }
    return { peerId: this.peer.id, kind: 'video', producerId: raw.id, processed: false };
  }

  /** Re-evaluate after settings or the raw producer changed. */
  sync(settingsChanged = false): void {
    if (this.closed) return;
    const want = this.peer.settings.enabled && !!this.peer.rawVideo;
    if (want && !this.pipeline && !this.starting) {
      this.restarts = 0;
      void this.start();
    } else if (!want && (this.pipeline || this.starting)) {
      this.stop();
    } else if (settingsChanged) {
      this.pipeline?.noteSettingsChange();
    }
  }

  private async start(): Promise<void> {
    const raw = this.peer.rawVideo;
    if (!raw) return;
    if (this.d.slots.used >= this.d.config.maxFilteredStreams) {
      this.lastFailure = `filter capacity reached (${this.d.config.maxFilteredStreams} streams on this server); your video stays unedited`;
      this.d.notice('warn', this.lastFailure);
      return;
    }
    this.starting = true;
    this.d.slots.used++;
    const { width, height } = frameSize(raw, this.d.config);
    let pipeline: FilterPipeline | null = null;
    try {
      pipeline = new FilterPipeline({
        router: this.d.router,
        source: raw,
        peerId: this.peer.id,
        width,
        height,
        processor: this.d.config.processor,
        workers: this.d.workers,
        context: () => {
          const s = this.peer.settings;
          const reference = s.prompt?.kind === 'image' ? this.d.resolveReference?.(s.prompt.uploadId) : undefined;
          return { peerId: this.peer.id, settings: s, reference };
        },
        ports: this.d.ports,
        ffmpegPath: this.d.config.ffmpegPath,
      });
      this.pipeline = pipeline;
      const p = pipeline;
      p.once('ready', () => {
        if (this.pipeline !== p || this.closed) return;
        this.restarts = 0;
        this.lastFailure = null;
        this.announcedProcessed = true;
        const s = this.currentVideo();
        if (s) this.d.announce(s);
      });
      p.once('failed', (reason: string) => this.onFailed(p, reason));
      await p.start();
    } catch (err) {
      // 'failed' has been emitted (or will be) by the pipeline; nothing else to undo here.
      if (!pipeline) {
        this.d.slots.used--;
        this.lastFailure = `filter could not start: ${err instanceof Error ? err.message : String(err)}`;
        this.d.notice('error', this.lastFailure);
      }
    } finally {
      this.starting = false;
    }
    if (this.pipeline && !this.peer.settings.enabled) this.stop();
  }

  private onFailed(p: FilterPipeline, reason: string): void {
    if (this.pipeline !== p) return;
    this.pipeline = null;
    this.d.slots.used--;
    // The failed pipeline is still tearing down (stopping its worker): keep it accounted for.
    this.closing.add(p);
    void p.close().finally(() => this.closing.delete(p));
    this.lastFailure = reason;
    this.switchToRaw();
    this.d.notice('error', `filter failed, showing your raw video: ${reason}`);
    if (this.closed || !this.peer.settings.enabled || this.restarts >= MAX_RESTARTS) return;
    this.restarts++;
    // A one-off fault (a killed process) is retried at once: every second here is a second of
    // the participant's call without the edit. Repeated faults back off (1 s, then 2 s).
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.pipeline && !this.starting) void this.start();
    }, this.restarts === 1 ? 50 : 1000 * (this.restarts - 1));
  }

  private switchToRaw(): void {
    if (!this.announcedProcessed) return;
    this.announcedProcessed = false;
    const s = this.currentVideo();
    if (s) this.d.announce(s);
  }

  private stop(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const p = this.pipeline;
    this.pipeline = null;
    this.switchToRaw();
    if (!p) return;
    this.d.slots.used--;
    // Receivers swap back to the raw producer first; the old pipeline keeps sending meanwhile.
    this.closing.add(p);
    const t = setTimeout(() => {
      this.closingTimers.delete(t);
      void p.close().finally(() => this.closing.delete(p));
    }, SWITCH_GRACE_MS);
    this.closingTimers.add(t);
  }

  private readonly closing = new Set<FilterPipeline>();
  private readonly closingTimers = new Set<NodeJS.Timeout>();

  stats(): FilterStats | null {
    if (this.pipeline) return this.pipeline.stats();
    if (this.peer.settings.enabled && this.lastFailure) {
      return {
        peerId: this.peer.id,
        state: 'failed',
        width: 0,
        height: 0,
        fpsIn: 0,
        fpsOut: 0,
        dropped: 0,
        decodeMs: null,
        processMs: null,
        encodeMs: null,
        addedLatencyMs: null,
        addedLatencyP95Ms: null,
        processor: this.d.config.processor,
        passthroughReason: this.lastFailure,
        lastSwitchMs: null,
      };
    }
    return null;
  }

  /** Preset thumbnails made by this peer's filter worker on the peer's own face. */
  thumbnails(presets: string[]): Promise<Record<string, string>> {
    if (!this.pipeline || this.pipeline.state !== 'running') {
      return Promise.reject(new Error('turn on "Edit my video" to see the presets on your own face'));
    }
    return this.pipeline.thumbnails(presets);
  }

  resources(): { pids: number[]; ports: number[]; pipelines: PipelineResources[] } {
    const all = [...this.closing, ...(this.pipeline ? [this.pipeline] : [])].map((p) => p.resources());
    return { pids: all.flatMap((r) => r.pids), ports: all.map((r) => r.port).filter((p) => p >= 0), pipelines: all };
  }

  /** Tear everything down now (the peer left). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const t of this.closingTimers) clearTimeout(t);
    this.closingTimers.clear();
    const ps = [...this.closing, ...(this.pipeline ? [this.pipeline] : [])];
    if (this.pipeline) this.d.slots.used--;
    this.pipeline = null;
    this.closing.clear();
    await Promise.all(ps.map((p) => p.close()));
  }
}

/** The loop's frame size: the producer's advertised size, scaled to fit the cap, even. */
function frameSize(raw: types.Producer, cfg: ServerConfig): { width: number; height: number } {
  const w0 = Number(raw.appData.width) || cfg.maxFrameWidth;
  const h0 = Number(raw.appData.height) || cfg.maxFrameHeight;
  const s = Math.min(1, cfg.maxFrameWidth / w0, cfg.maxFrameHeight / h0);
  const even = (v: number) => Math.max(2, Math.round((v * s) / 2) * 2);
  return { width: even(w0), height: even(h0) };
}
