import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AdaptEventSchema, type AdaptJob, ADAPT_LIMITS } from '@portrait-edit/shared';
import { ClientError } from '../errors.js';
import type { StyleStore } from './style-store.js';

export interface AdaptJobsOptions {
  /** Where job inputs live while a job waits or runs (DATA/jobs). */
  jobsDir: string;
  styles: StyleStore;
  /** The trainer's Python (models/training/.venv/bin/python) and its working directory. */
  python: string;
  trainingDir: string;
  /** Jobs training at once (default 1: a job takes the 2 cores' spare time). */
  concurrency: number;
  /** torch threads per job. */
  threads: number;
  /** Seconds allowed beyond the optimisation budget (loading, face analysis, saving); default 300 + 5 per pair. */
  graceS?: number;
  /** Niceness of the trainer process: calls keep the CPU first. */
  nice?: number;
  /** Expected tensor sizes (from the installed editor), checked before a style is installed. */
  expect?: { k: number; d: number; normDim: number } | null;
  /** Called when the style list changes (a job installed a style). */
  onStylesChanged?: () => void;
}

interface Job extends AdaptJob {
  /** The room that started it: only that room sees and cancels it. */
  room: string | null;
  dir: string;
  proc: ChildProcess | null;
  stderrTail: string;
  timer: NodeJS.Timeout | null;
  cancelRequested: boolean;
  /** When training (the optimisation) began, for the ETA. */
  trainingSince: number | null;
}

const KEEP_FINISHED = 20;

/** Trainers alive in this process: killed if the server process exits without closing them. */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of LIVE) p.kill('SIGKILL');
});

/**
 * The adaptation queue: jobs run `python -m pe_editor.adapt --progress` as a separate, niced
 * process with a time budget, never in the SFU's event loop. One at a time by default; the rest
 * wait in order. A job's output goes to its own folder and is moved into the style store only
 * after it has been checked, so a crash, a kill or a cancel leaves the existing styles (and the
 * calls using them) untouched.
 */
export class AdaptJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: string[] = [];
  private running = 0;
  private closed = false;

  /** This server's own folder under jobsDir (several servers may share a data directory). */
  private readonly mine: string;

  constructor(private readonly o: AdaptJobsOptions) {
    this.mine = path.join(o.jobsDir, String(process.pid));
    // Inputs left behind by a server that is gone (crash, kill) can never run: they had no
    // persisted record. Folders of live servers are theirs.
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(o.jobsDir);
    } catch {
      // no jobs folder yet
    }
    for (const e of entries) {
      const pid = Number(e);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      if (pid !== process.pid && !alive(pid)) fs.rmSync(path.join(o.jobsDir, e), { recursive: true, force: true });
    }
  }

  /** The trainer can run here at all (the venv exists). */
  get available(): boolean {
    return fs.existsSync(this.o.python);
  }

  /** Style ids taken by waiting or running jobs. */
  pendingIds(): Set<string> {
    return new Set([...this.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'running').map((j) => j.styleId));
  }

  /** A fresh job folder for the caller to fill with pairs (DIR/pairs). */
  newJobDir(): { id: string; dir: string } {
    if (this.queue.length >= ADAPT_LIMITS.maxQueued) throw new ClientError('RATE_LIMITED', `${this.queue.length} jobs are already waiting; try again later`);
    const id = crypto.randomBytes(9).toString('base64url');
    const dir = path.join(this.mine, id);
    fs.mkdirSync(dir, { recursive: true });
    return { id, dir };
  }

  discardDir(dir: string): void {
    if (path.dirname(dir) === this.mine) fs.rmSync(dir, { recursive: true, force: true });
  }

  submit(a: { id: string; dir: string; styleId: string; label: string; minutes: number; pairs: number; skipped: string[]; room?: string }): AdaptJob {
    if (this.closed) throw new ClientError('INTERNAL', 'server is shutting down');
    if (this.queue.length >= ADAPT_LIMITS.maxQueued) throw new ClientError('RATE_LIMITED', 'too many jobs waiting; try again later');
    const job: Job = {
      id: a.id, styleId: a.styleId, label: a.label, state: 'queued', pairs: a.pairs, minutes: a.minutes,
      createdAt: Date.now(), startedAt: null, finishedAt: null, queuePosition: null, phase: null, step: 0, loss: null,
      elapsedS: 0, budgetS: a.minutes * 60, etaS: null, fraction: 0, skipped: a.skipped, error: null,
      room: a.room ?? null, dir: a.dir, proc: null, stderrTail: '', timer: null, cancelRequested: false, trainingSince: null,
    };
    this.jobs.set(job.id, job);
    this.queue.push(job.id);
    this.pump();
    return this.view(job);
  }

  /** A job, if it exists and (when `room` is given) was started from that room. */
  get(id: string, room?: string): AdaptJob | undefined {
    const j = this.jobs.get(id);
    return j && (room === undefined || j.room === room) ? this.view(j) : undefined;
  }

  list(room?: string): AdaptJob[] {
    return [...this.jobs.values()].filter((j) => room === undefined || j.room === room).map((j) => this.view(j));
  }

  /** Pids of running trainers (leak checks). */
  pids(): number[] {
    return [...this.jobs.values()].flatMap((j) => (j.proc?.pid && j.proc.exitCode === null && j.proc.signalCode === null ? [j.proc.pid] : []));
  }

  cancel(id: string, room?: string): AdaptJob {
    const j = this.jobs.get(id);
    if (!j || (room !== undefined && j.room !== room)) throw new ClientError('NOT_FOUND', 'no such job');
    if (j.state === 'queued') {
      this.queue.splice(this.queue.indexOf(id), 1);
      this.finish(j, 'cancelled', null);
    } else if (j.state === 'running') {
      j.cancelRequested = true;
      this.kill(j);
    }
    return this.view(j);
  }

  async close(): Promise<void> {
    this.closed = true;
    const waits: Promise<void>[] = [];
    for (const j of this.jobs.values()) {
      if (j.state === 'queued') this.finish(j, 'cancelled', 'server stopped');
      if (j.proc && j.state === 'running') {
        j.cancelRequested = true;
        waits.push(new Promise((r) => j.proc!.once('close', () => r())));
        this.kill(j, 500);
      }
    }
    await Promise.all(waits);
  }

  private view(j: Job): AdaptJob {
    const { room: _r, dir: _d, proc: _p, stderrTail: _s, timer: _t, cancelRequested: _c, trainingSince: _ts, ...v } = j;
    return { ...v, queuePosition: j.state === 'queued' ? this.queue.indexOf(j.id) : null, skipped: [...j.skipped] };
  }

  private pump(): void {
    while (!this.closed && this.running < this.o.concurrency && this.queue.length) {
      const j = this.jobs.get(this.queue.shift()!)!;
      this.start(j);
    }
  }

  private start(j: Job): void {
    this.running++;
    j.state = 'running';
    j.startedAt = Date.now();
    j.phase = 'loading';
    const out = path.join(j.dir, 'out');
    const args = [
      '-m', 'pe_editor.adapt', '--pairs', path.join(j.dir, 'pairs'), '--name', j.styleId, '--label', j.label,
      '--minutes', String(j.minutes), '--out', out, '--threads', String(this.o.threads), '--progress',
    ];
    let proc: ChildProcess;
    try {
      proc = spawn(this.o.python, args, {
        cwd: this.o.trainingDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', OMP_NUM_THREADS: String(this.o.threads), GLOG_minloglevel: '2', TF_CPP_MIN_LOG_LEVEL: '2', PYTHONUNBUFFERED: '1' },
      });
    } catch (err) {
      this.finish(j, 'failed', `cannot start the trainer: ${(err as Error).message}`);
      return;
    }
    j.proc = proc;
    LIVE.add(proc);
    if (proc.pid) {
      try {
        os.setPriority(proc.pid, this.o.nice ?? 10);
      } catch {
        // Not fatal: the job still runs, only at normal priority.
      }
    }
    // A safety net for a hung trainer, not a deadline: loading torch and finding the faces come
    // before the optimisation budget, and take minutes on 2 busy cores.
    const graceS = this.o.graceS ?? 300 + 5 * j.pairs;
    j.timer = setTimeout(() => {
      j.error = `the trainer ran past its time budget (${j.minutes} min + ${graceS} s)`;
      this.kill(j);
    }, (j.minutes * 60 + graceS) * 1000);
    let buf = '';
    let doneSeen = false;
    let errorMsg: string | null = null;
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        let ev;
        try {
          ev = AdaptEventSchema.safeParse(JSON.parse(line));
        } catch {
          continue;
        }
        if (!ev.success) continue;
        const e = ev.data;
        if (e.event === 'phase') {
          j.phase = e.phase;
          if (e.phase === 'training') j.trainingSince = Date.now();
        } else if (e.event === 'faces') {
          j.fraction = 0.05 * (e.done / Math.max(1, e.total));
        } else if (e.event === 'pairs') {
          j.skipped = [...new Set([...j.skipped, ...e.skipped])].slice(0, 50);
        } else if (e.event === 'progress') {
          j.step = e.step;
          j.loss = e.loss;
          j.elapsedS = e.elapsed;
          j.budgetS = e.budget;
          j.fraction = Math.min(0.99, 0.05 + 0.95 * (e.elapsed / Math.max(1, e.budget)));
          // Optimisation time runs slower than the wall clock on a busy machine: scale by the ratio seen so far.
          const wall = j.trainingSince ? (Date.now() - j.trainingSince) / 1000 : e.elapsed;
          j.etaS = Math.max(0, Math.round((e.budget - e.elapsed) * (e.elapsed > 1 ? wall / e.elapsed : 1)));
        } else if (e.event === 'done') {
          doneSeen = true;
          j.phase = 'saving';
        } else if (e.event === 'error') {
          errorMsg = e.message;
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      j.stderrTail = (j.stderrTail + d).slice(-2000);
    });
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      LIVE.delete(proc);
      if (j.timer) clearTimeout(j.timer);
      j.proc = null;
      this.running--;
      if (j.cancelRequested && !j.error) this.finish(j, 'cancelled', null);
      else if (code === 0 && doneSeen && !j.error) {
        try {
          this.o.styles.install(path.join(j.dir, 'out'), j.styleId, this.o.expect ?? null);
          j.step = Math.max(j.step, 0);
          this.finish(j, 'done', null);
          this.o.onStylesChanged?.();
        } catch (err) {
          this.finish(j, 'failed', `the trainer's output was refused: ${(err as Error).message}`);
        }
      } else {
        const last = j.stderrTail.trim().split('\n').pop() ?? '';
        this.finish(j, 'failed', j.error ?? errorMsg ?? `the trainer stopped (${signal ?? `exit ${code}`})${last ? `: ${last.slice(0, 300)}` : ''}`);
      }
      this.pump();
    };
    proc.on('close', end);
    proc.on('error', (err) => {
      errorMsg ??= `cannot start the trainer: ${err.message}`;
      if (!proc.pid) end(null, null);
    });
  }

  private kill(j: Job, graceMs = 3000): void {
    const p = j.proc;
    if (!p) return;
    p.kill('SIGTERM');
    setTimeout(() => {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    }, graceMs).unref();
  }

  private finish(j: Job, state: 'done' | 'failed' | 'cancelled', error: string | null): void {
    j.state = state;
    j.error = error;
    j.finishedAt = Date.now();
    j.etaS = state === 'done' ? 0 : null;
    if (state === 'done') j.fraction = 1;
    this.discardDir(j.dir);
    const finished = [...this.jobs.values()].filter((x) => x.finishedAt !== null).sort((a, b) => a.finishedAt! - b.finishedAt!);
    while (finished.length > KEEP_FINISHED) this.jobs.delete(finished.shift()!.id);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
