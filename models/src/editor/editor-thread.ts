/**
 * `EditorThread`: the editor graph on its own worker thread (editor-thread-entry.ts).
 *
 * onnxruntime-node runs a session synchronously on the JS thread that calls `run()` (it only
 * defers the call with setImmediate), so an editor run on the frame path's thread blocks
 * tracking and compositing for its whole 50–80 ms. On its own thread it overlaps them: this is
 * what the editor processor's pipeline mode uses.
 *
 * A crashed thread fails the requests that waited on it; the next request starts a new one
 * (at most once per RESPAWN_MS).
 */
import type { Worker } from 'node:worker_threads';
import { tsWorker } from '../ts-worker.js';
import type { EditInput } from './portrait-editor.js';
import { SupersededError } from './staged-editor.js';

export type EditorThreadRequest =
  | { type: 'edit'; id: number; input: EditInput }
  /** Runs with an id below `below` stop at their next stage boundary. */
  | { type: 'supersede'; below: number }
  | { type: 'close' };
export type EditorThreadReply =
  | { type: 'ready' }
  | { type: 'initFailed'; message: string }
  | { type: 'edited'; id: number; rgb: Uint8Array; ms: number }
  | { type: 'failed'; id: number; message: string; superseded?: boolean };

export interface EditorThreadOptions {
  assetsDir?: string;
  /** onnxruntime intra-op threads of the thread's session. */
  threads?: number;
  /**
   * The thread's nice value (Linux: its own and its onnxruntime pool threads', best effort), so
   * that it yields the cores to the frame path of the same process. 0 (default): as the caller.
   */
  nice?: number;
}

export interface ThreadEdit {
  /** RGB24, EDITOR_SIZE² (HWC). */
  rgb: Uint8Array;
  /** Inference time in the thread. */
  ms: number;
}

const ENTRY = new URL('./editor-thread-entry.ts', import.meta.url);
const RESPAWN_MS = 2000;

export class EditorThread {
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private readonly waiting = new Map<number, { resolve: (r: ThreadEdit) => void; reject: (e: Error) => void }>();
  private ids = 0;
  private lastSpawn = 0;
  private deadReason: string | null = null;
  private closed = false;

  private constructor(private readonly opts: EditorThreadOptions) {}

  static async start(opts: EditorThreadOptions = {}): Promise<EditorThread> {
    const t = new EditorThread(opts);
    await t.spawn();
    return t;
  }

  private spawn(): Promise<void> {
    this.lastSpawn = performance.now();
    const w = tsWorker(ENTRY, { assetsDir: this.opts.assetsDir, threads: this.opts.threads, nice: this.opts.nice });
    this.worker = w;
    this.starting = new Promise<void>((resolve, reject) => {
      w.on('message', (m: EditorThreadReply) => {
        if (m.type === 'ready') {
          this.deadReason = null;
          resolve();
        } else if (m.type === 'initFailed') {
          reject(new Error(m.message));
          this.gone(w, `editor thread failed to load: ${m.message}`);
          void w.terminate();
        } else {
          const p = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          if (!p) return;
          if (m.type === 'edited') p.resolve({ rgb: m.rgb, ms: m.ms });
          else p.reject(m.superseded ? new SupersededError() : new Error(m.message));
        }
      });
      w.on('error', (err) => {
        reject(err);
        this.gone(w, `editor thread crashed: ${err.message}`);
      });
      w.on('exit', (code) => {
        reject(new Error(`editor thread exited (${code})`));
        this.gone(w, `editor thread exited (${code})`);
      });
    });
    return this.starting;
  }

  private gone(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.starting = null;
    this.deadReason = why;
    const err = new Error(why);
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }

  /** Runs the editor on the thread; the input arrays are copied, not taken. */
  async edit(input: EditInput): Promise<ThreadEdit> {
    if (this.closed) throw new Error('editor thread closed');
    // Numbered now: a supersede() right after this call covers it.
    const id = ++this.ids;
    if (!this.worker) {
      if (performance.now() - this.lastSpawn < RESPAWN_MS) throw new Error(this.deadReason ?? 'editor thread not running');
      this.spawn().catch(() => {});
    }
    await this.starting;
    const w = this.worker;
    if (!w) throw new Error(this.deadReason ?? 'editor thread not running');
    return new Promise<ThreadEdit>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ type: 'edit', id, input } satisfies EditorThreadRequest);
    });
  }

  /**
   * The runs asked for so far are no longer wanted: each stops at its next stage boundary and
   * rejects with SupersededError (one that finishes first resolves as usual).
   */
  supersede(): void {
    this.worker?.postMessage({ type: 'supersede', below: this.ids + 1 } satisfies EditorThreadRequest);
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    w.postMessage({ type: 'close' } satisfies EditorThreadRequest);
    const t = setTimeout(() => void w.terminate(), 2000);
    await exited;
    clearTimeout(t);
  }
}
