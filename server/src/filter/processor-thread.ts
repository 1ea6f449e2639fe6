/**
 * `ThreadedProcessor`: runs a stream's processor chain on a worker thread of the filter worker
 * (processor-thread-entry.ts), so the worker's main thread only moves bytes.
 *
 * Why: a 640×480 RGB frame is 900 KB and a pipe holds 64 KB, so reading one frame from the
 * decoder (and writing one to the encoder) takes ~15 turns of the event loop. With the tracker
 * and the composite running on that same loop for ~30 ms at a time, the decoder was blocked on
 * its stdout most of the time: measured with the editor on a quiet 2-core machine, 6 fps came
 * out of the decoder for 15 sent, and RTP queued in the kernel's socket buffer for 2.4 s.
 *
 * Frames travel in one SharedArrayBuffer: the main thread copies the frame in, the thread edits
 * it in place, the main thread copies the result out (2 × 0.1 ms at 640×480). The thread also
 * guards the call: when it takes longer than `stallMs` (a hung or crashed processor) frames go
 * out unedited with the reason, and a thread that stays stuck for `restartAfterMs`, throws
 * outside a frame or dies is replaced by a fresh one, while frames keep passing through.
 */
import type { Worker } from 'node:worker_threads';
import { tsWorker } from '@portrait-edit/models';
import type { Frame, FrameProcessor, ProcessContext, ProcessResult } from '@portrait-edit/models';
import type { PromptAwareProcessor } from './worker-protocol.js';

/** Prompt-switch times, each in the clock of the thread that reports them (performance.now()). */
export interface PromptSwitchRel {
  seq: number;
  requestedAt: number;
  readyAt: number | null;
  shownAt: number | null;
}

export type ToThread =
  | { type: 'buffer'; buffer: SharedArrayBuffer }
  | { type: 'ctx'; ctx: ProcessContext; prepare: boolean }
  | { type: 'process'; seq: number; width: number; height: number; timestampMs: number }
  | { type: 'thumbnails'; id: number; ids: string[] }
  | { type: 'close' };

export type FromThread =
  | { type: 'ready'; name: string; timeOrigin: number }
  | { type: 'initFailed'; reason: string }
  | { type: 'processed'; seq: number; edited: boolean; reason: string | null; promptSwitch: PromptSwitchRel | null; edits: number | null }
  | { type: 'processFailed'; seq: number; message: string }
  | { type: 'thumbnails'; id: number; images: Record<string, string> | null; error: string | null }
  | { type: 'closed' };

export interface ThreadedProcessorOptions {
  /** A frame taking longer than this goes out unedited (default 1500 ms). */
  stallMs?: number;
  /** A thread stuck on one frame this long is replaced (default 8000 ms). */
  restartAfterMs?: number;
}

const ENTRY = new URL('./processor-thread-entry.ts', import.meta.url);

interface InFlight {
  seq: number;
  frame: Frame;
  bytes: number;
  startedAt: number;
  /** Resolves the caller of process(); null once it was answered (by the reply or the stall). */
  resolve: ((r: ProcessResult) => void) | null;
  timer: NodeJS.Timeout;
}

export class ThreadedProcessor implements FrameProcessor, PromptAwareProcessor {
  private worker: Worker | null = null;
  /** Why frames pass through while there is no working thread; null while it works. */
  private down: string | null = 'starting';
  private buffer: SharedArrayBuffer | null = null;
  private slot: Uint8Array = new Uint8Array(0);
  /** The context the thread has; a new object is sent before the next frame. */
  private sentCtx: ProcessContext | null = null;
  private inFlight: InFlight | null = null;
  private seq = 0;
  /** Thread clock minus this thread's clock (ms). */
  private clockOffset = 0;
  private switchInfo: PromptSwitchRel | null = null;
  private edits: number | null = null;
  private readonly thumbWaiters = new Map<number, { resolve: (v: Record<string, string> | null) => void; reject: (e: Error) => void }>();
  private thumbIds = 0;
  private closing = false;
  /** Set when the processor failed to load: no more restarts. */
  private gaveUp: string | null = null;
  private restarts = 0;
  private readonly stallMs: number;
  private readonly restartAfterMs: number;

  private constructor(
    public name: string,
    opts: ThreadedProcessorOptions,
  ) {
    this.stallMs = opts.stallMs ?? 1500;
    this.restartAfterMs = opts.restartAfterMs ?? 8000;
  }

  /** Starts the thread and waits until its processor is loaded; rejects with its init error. */
  static async create(name: string, opts: ThreadedProcessorOptions = {}): Promise<ThreadedProcessor> {
    const p = new ThreadedProcessor(name, opts);
    try {
      await p.spawn();
    } catch (err) {
      p.closing = true;
      await p.worker?.terminate();
      throw err;
    }
    return p;
  }

  /** How many times the thread was replaced. */
  get restartCount(): number {
    return this.restarts;
  }

  private spawn(): Promise<void> {
    const w = tsWorker(ENTRY, { processor: this.name });
    this.worker = w;
    this.sentCtx = null;
    this.buffer = null;
    return new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        if (m.type === 'ready') {
          this.name = m.name;
          this.clockOffset = m.timeOrigin - performance.timeOrigin;
          this.down = null;
          resolve();
        } else if (m.type === 'initFailed') {
          // A processor that cannot load will not load on a retry either.
          this.gaveUp = m.reason;
          reject(new Error(m.reason));
          void w.terminate();
        } else {
          this.onMessage(m);
        }
      };
      w.on('message', onMessage);
      w.on('error', (err) => {
        reject(err);
        this.lost(w, `filter thread crashed: ${err.message}`);
      });
      w.on('exit', (code) => {
        reject(new Error(`filter thread exited (${code})`));
        this.lost(w, `filter thread exited (${code})`);
      });
    });
  }

  /** The thread `w` is gone: answer what waited on it and start another. */
  private lost(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.down = this.gaveUp ?? why;
    const f = this.inFlight;
    if (f) this.finish(f, { frame: f.frame, edited: false, reason: why });
    for (const t of this.thumbWaiters.values()) t.reject(new Error(why));
    this.thumbWaiters.clear();
    if (this.closing || this.gaveUp !== null) return;
    this.restarts++;
    // A thread that dies at once again and again must not spin: back off up to 5 s.
    const delay = Math.min(5000, 250 * 2 ** Math.min(this.restarts - 1, 5));
    setTimeout(() => {
      if (this.closing || this.worker) return;
      this.spawn().catch((err: unknown) => {
        this.down = `filter restart failed: ${err instanceof Error ? err.message : String(err)}`;
      });
    }, delay).unref();
  }

  private onMessage(m: FromThread): void {
    if (m.type === 'processed' || m.type === 'processFailed') {
      const f = this.inFlight;
      if (!f || f.seq !== m.seq) return;
      if (m.type === 'processed' && m.promptSwitch) {
        const s = m.promptSwitch;
        const o = this.clockOffset;
        this.switchInfo = { seq: s.seq, requestedAt: s.requestedAt + o, readyAt: s.readyAt === null ? null : s.readyAt + o, shownAt: s.shownAt === null ? null : s.shownAt + o };
      }
      if (m.type === 'processed') this.edits = m.edits;
      if (!f.resolve) {
        // Answered late, after the stall passed the frame through: only the thread is free again.
        this.finish(f, null);
        return;
      }
      if (m.type === 'processFailed') {
        this.finish(f, { frame: f.frame, edited: false, reason: `filter error: ${m.message}` });
        return;
      }
      f.frame.data.set(f.bytes === this.slot.length ? this.slot : this.slot.subarray(0, f.bytes));
      this.finish(f, { frame: f.frame, edited: m.edited, ...(m.reason === null ? {} : { reason: m.reason }) });
    } else if (m.type === 'thumbnails') {
      const t = this.thumbWaiters.get(m.id);
      this.thumbWaiters.delete(m.id);
      if (!t) return;
      if (m.error !== null) t.reject(new Error(m.error));
      else t.resolve(m.images);
    }
  }

  /** The thread answered `f` (or died): the slot is free; answers the caller if the stall did not. */
  private finish(f: InFlight, r: ProcessResult | null): void {
    clearTimeout(f.timer);
    if (this.inFlight === f) this.inFlight = null;
    if (r && f.resolve) {
      const resolve = f.resolve;
      f.resolve = null;
      resolve(r);
    }
  }

  private post(m: ToThread): void {
    this.worker?.postMessage(m);
  }

  private syncContext(ctx: ProcessContext, prepare: boolean): void {
    if (ctx === this.sentCtx && !prepare) return;
    this.sentCtx = ctx;
    this.post({ type: 'ctx', ctx, prepare });
  }

  process(frame: Frame, ctx: ProcessContext): Promise<ProcessResult> | ProcessResult {
    if (this.down !== null || !this.worker) return { frame, edited: false, reason: this.down ?? 'filter thread not running' };
    const busy = this.inFlight;
    if (busy) {
      const stuck = performance.now() - busy.startedAt;
      if (stuck > this.restartAfterMs) {
        const w = this.worker;
        // terminate() fires 'exit', which answers and restarts (see lost()).
        void w.terminate();
        this.lost(w, `filter stuck for ${(stuck / 1000).toFixed(1)} s, restarting it`);
        return { frame, edited: false, reason: this.down ?? 'filter restarting' };
      }
      return { frame, edited: false, reason: `filter stalled (${(stuck / 1000).toFixed(1)} s on one frame)` };
    }
    const bytes = frame.data.length;
    if (!this.buffer || this.buffer.byteLength < bytes) {
      this.buffer = new SharedArrayBuffer(bytes);
      this.slot = new Uint8Array(this.buffer);
      this.post({ type: 'buffer', buffer: this.buffer });
    }
    this.syncContext(ctx, false);
    (bytes === this.slot.length ? this.slot : this.slot.subarray(0, bytes)).set(frame.data);
    const seq = ++this.seq;
    return new Promise<ProcessResult>((resolve) => {
      const f: InFlight = {
        seq,
        frame,
        bytes,
        startedAt: performance.now(),
        resolve,
        timer: setTimeout(() => {
          // Too slow: this frame goes out as it came; the thread stays busy (inFlight) until it answers.
          if (!f.resolve) return;
          const r = f.resolve;
          f.resolve = null;
          r({ frame, edited: false, reason: `filter stalled (over ${(this.stallMs / 1000).toFixed(1)} s on one frame)` });
        }, this.stallMs),
      };
      this.inFlight = f;
      this.post({ type: 'process', seq, width: frame.width, height: frame.height, timestampMs: frame.timestampMs });
    });
  }

  prepare(ctx: ProcessContext): void {
    this.syncContext(ctx, true);
  }

  /** The thread processor's edit counter (pipelined editor), as of its last frame. */
  get editCount(): number | undefined {
    return this.edits ?? undefined;
  }

  promptSwitch(): PromptSwitchRel | null {
    return this.switchInfo;
  }

  presetThumbnails(ids: string[]): Promise<Record<string, string> | null> {
    if (!this.worker || this.down !== null) return Promise.reject(new Error(this.down ?? 'filter thread not running'));
    const id = ++this.thumbIds;
    return new Promise((resolve, reject) => {
      this.thumbWaiters.set(id, { resolve, reject });
      this.post({ type: 'thumbnails', id, ids });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    if (!w) return;
    const closed = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      w.on('message', (m: FromThread) => {
        if (m.type === 'closed') {
          clearTimeout(t);
          resolve();
        }
      });
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.post({ type: 'close' });
    await closed;
    this.worker = null;
    await w.terminate();
  }
}
