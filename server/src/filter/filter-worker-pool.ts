import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FromWorker, ToWorker } from './worker-protocol.js';

const WORKER_ENTRY = fileURLToPath(new URL('./filter-worker.ts', import.meta.url));
/** tsx's loader (`node --import tsx`), resolved from here so the worker's cwd does not matter. */
const TSX_LOADER = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;

/** A process that exists and has not exited (a zombie waiting to be reaped counts as gone). */
export function processRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    // No /proc (not Linux): fall back to a signal probe.
    if (!fs.existsSync('/proc/self')) {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    }
    return false;
  }
}

function isFfmpeg(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg';
  } catch {
    return !fs.existsSync('/proc/self') && processRunning(pid);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU time (user + system, ms) a process has used, and its state letter; null where /proc cannot tell. */
export function processCpu(pid: number): { cpuMs: number; state: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2);
    const f = rest.split(' ');
    return { cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / 100, state: f[0] }; // USER_HZ
  } catch {
    return null;
  }
}

/** How much longer than the heartbeat a silent worker that is still computing may take. */
export const BUSY_SILENCE_FACTOR = 4;
/**
 * CPU used over this window (ms), or a runnable state now, means the worker is computing. Short,
 * so that a stopped worker's last work before it stopped does not count for long (a hang is
 * found 1–1.25 s after the last report with the 1 s heartbeat); long enough to see a starved
 * worker's slivers of CPU.
 */
const BUSY_WINDOW_MS = 750;

/**
 * Tells a hung worker from a slow one. A worker whose reports stopped but which is computing —
 * runnable right now, or it used CPU in the last 0.75 s — is slow (a long frame, or a machine so
 * short of cores that a 100 ms step takes seconds): it gets BUSY_SILENCE_FACTOR × the heartbeat
 * before it is given up. A silent worker that is neither (stopped, deadlocked, blocked) is hung
 * after the heartbeat. Without /proc every silence past the heartbeat counts as a hang.
 */
export class SilenceJudge {
  private readonly samples: { t: number; cpuMs: number }[] = [];

  constructor(private readonly probe: () => { cpuMs: number; state: string } | null) {}

  /** Call on every heartbeat check; true when the worker should be treated as hung. */
  hung(silentMs: number, limitMs: number, now = performance.now()): boolean {
    const p = this.probe();
    if (p) {
      this.samples.push({ t: now, cpuMs: p.cpuMs });
      while (this.samples.length > 1 && now - this.samples[1].t >= BUSY_WINDOW_MS) this.samples.shift();
    }
    if (silentMs <= limitMs) return false;
    if (!p) return true;
    const oldest = this.samples[0];
    const busy = p.state === 'R' || (now - oldest.t >= BUSY_WINDOW_MS * 0.9 && p.cpuMs > oldest.cpuMs);
    return !busy || silentMs > limitMs * BUSY_SILENCE_FACTOR;
  }
}

/**
 * The SFU's handle on one filter worker process. Events: 'message' (FromWorker), 'died'
 * (code, signal) as soon as the process exited, 'exit' (code, signal) once any ffmpeg
 * children it left behind are gone too.
 */
export class FilterWorker extends EventEmitter {
  readonly pid: number;
  /** ffmpeg children the worker reported, until they are known to be gone. */
  readonly ffmpegPids = new Set<number>();
  /** Resolves with the processor's name once it is initialised; rejects if it cannot be. */
  readonly initialised: Promise<string>;
  /** Resolves when the worker and its ffmpeg children are gone. */
  readonly gone: Promise<void>;
  exited = false;
  private stopping: Promise<void> | null = null;
  private readonly silence: SilenceJudge;

  constructor(private readonly child: ChildProcess, processor: string) {
    super();
    if (child.pid === undefined) throw new Error('could not start a filter worker');
    this.pid = child.pid;
    const pid = child.pid;
    this.silence = new SilenceJudge(() => processCpu(pid));
    this.initialised = new Promise<string>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.type === 'initialised') resolve(m.processor);
        else if (m.type === 'initFailed') reject(new Error(m.reason));
        else return;
        child.off('message', onMsg);
      };
      child.on('message', onMsg);
      child.once('exit', (code, signal) => reject(new Error(`filter worker exited during start-up (${signal ?? code})`)));
    });
    this.initialised.catch(() => {});
    child.on('message', (m: FromWorker) => {
      if (m.type === 'pids') {
        for (const p of [m.decoder, m.encoder]) if (p !== null) this.ffmpegPids.add(p);
      }
      this.emit('message', m);
    });
    // IPC errors (channel closed while sending) must not crash the SFU; 'exit' reports the end.
    child.on('error', () => {});
    this.gone = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.emit('died', code, signal);
        void this.reapOrphans().then(() => {
          resolve();
          this.emit('exit', code, signal);
        });
      });
    });
    this.send({ type: 'init', processor });
  }

  /**
   * Whether this worker, silent for `silentMs`, is hung (see SilenceJudge). Call it on every
   * heartbeat check, silent or not, so it can see whether the worker is using CPU.
   */
  hung(silentMs: number, limitMs: number): boolean {
    return this.silence.hung(silentMs, limitMs);
  }

  send(msg: ToWorker): boolean {
    if (this.exited || !this.child.connected) return false;
    try {
      this.child.send(msg, undefined, undefined, () => {});
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Asks the worker to stop its ffmpeg children and exit; kills it if it has not within
   * graceMs. With graceMs 0 (a hung worker) it is killed at once.
   */
  stop(graceMs = 1500): Promise<void> {
    this.stopping ??= (async () => {
      if (this.exited) return this.gone;
      const asked = graceMs > 0 && this.send({ type: 'stop' });
      if (!asked) this.child.kill('SIGKILL');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.gone;
      clearTimeout(timer);
    })();
    return this.stopping;
  }

  /** A worker that died (or was killed) leaves its ffmpeg children running: kill them. */
  private async reapOrphans(): Promise<void> {
    for (const pid of this.ffmpegPids) {
      if (processRunning(pid) && isFfmpeg(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    for (let i = 0; i < 100 && [...this.ffmpegPids].some(processRunning); i++) await sleep(20);
    this.ffmpegPids.clear();
  }
}

export interface FilterWorkerPoolOptions {
  /** The processor a warm spare is prepared with (the server's PE_PROCESSOR). */
  processor: string;
  /** Keep one initialised worker waiting (default true). */
  warmSpare?: boolean;
  /** A running worker silent for this long is taken as hung (default 1000 ms). */
  heartbeatMs?: number;
  /** A worker whose processor is not initialised after this long is given up on (default 60 s). */
  initTimeoutMs?: number;
}

/**
 * Starts filter worker processes, keeping one warm spare (processor already initialised) so
 * turning a filter on does not wait for a process to start; a new spare is prepared as soon
 * as one is taken. Workers are used for one stream and then stopped, never reused, so a
 * processor's state (or a leak in it) never outlives its stream.
 */
export class FilterWorkerPool {
  private spare: FilterWorker | null = null;
  private readonly inUse = new Set<FilterWorker>();
  private closed = false;
  /** Spares that died while waiting, since the last acquire. */
  private idleDeaths = 0;

  readonly heartbeatMs: number;

  constructor(private readonly o: FilterWorkerPoolOptions) {
    this.heartbeatMs = o.heartbeatMs ?? 1000;
  }

  /** Prepares the spare now (not awaited). */
  warm(): void {
    if (this.closed || this.o.warmSpare === false || this.spare) return;
    const w = this.spawn(this.o.processor);
    this.spare = w;
    w.initialised.catch(() => {
      // A spare that cannot start is dropped; the next acquire tries again and reports why.
      if (this.spare === w) this.spare = null;
      void w.stop(0);
    });
    void w.gone.then(async () => {
      if (this.spare !== w) return;
      this.spare = null;
      // A spare that was ready and then died (killed, out of memory): prepare another, once it
      // is clear this is not a crash loop.
      const wasReady = await w.initialised.then(() => true, () => false);
      if (wasReady && !this.closed && ++this.idleDeaths <= 3) setTimeout(() => this.warm(), 1000).unref();
    });
  }

  /** Resolves true once the current spare has its processor initialised (false: none, or it failed). */
  async spareReady(): Promise<boolean> {
    const w = this.spare;
    return w ? w.initialised.then(() => !w.exited, () => false) : false;
  }

  /** A worker with `processor` initialised, for one stream; stop() it when done. */
  async acquire(processor: string): Promise<FilterWorker> {
    if (this.closed) throw new Error('the filter worker pool is closed');
    this.idleDeaths = 0;
    let w = this.spare && this.spare.exited === false && processor === this.o.processor ? this.spare : null;
    if (w) this.spare = null;
    w ??= this.spawn(processor);
    this.inUse.add(w);
    const taken = w;
    void w.gone.then(() => this.inUse.delete(taken));
    this.warm();
    let timer: NodeJS.Timeout | undefined;
    try {
      const limit = this.o.initTimeoutMs ?? 60_000;
      await Promise.race([
        w.initialised,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the filter worker did not initialise "${processor}" within ${limit} ms`)), limit);
        }),
      ]);
    } catch (err) {
      void w.stop(0);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return w;
  }

  private spawn(processor: string): FilterWorker {
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ['--import', TSX_LOADER],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new FilterWorker(child, processor);
  }

  /** Live processes, for leak checks: workers serving streams, their ffmpeg children, the spare. */
  resources(): { workerPids: number[]; ffmpegPids: number[]; sparePids: number[] } {
    const ws = [...this.inUse];
    return {
      workerPids: ws.filter((w) => !w.exited).map((w) => w.pid),
      ffmpegPids: ws.flatMap((w) => [...w.ffmpegPids]),
      sparePids: this.spare && !this.spare.exited ? [this.spare.pid] : [],
    };
  }

  /** Stops the spare and every worker still in use. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.inUse, ...(this.spare ? [this.spare] : [])];
    this.spare = null;
    await Promise.all(all.map((w) => w.stop()));
  }
}
