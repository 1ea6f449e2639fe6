import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export type FfmpegChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** Live ffmpeg children, so the server can prove (and tests can check) none are left behind. */
export const liveFfmpegPids = new Set<number>();

/**
 * Spawns ffmpeg with an argument array (no shell), keeps the last lines of its stderr for
 * error reports, and tracks its pid until it exits.
 */
export function spawnFfmpeg(ffmpegPath: string, args: string[]): { child: FfmpegChild; stderrTail: () => string; exited: Promise<number | null> } {
  const child = spawn(ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    tail = (tail + s).slice(-2000);
  });
  // EPIPE when ffmpeg dies while we write is reported through 'exit'; don't crash on it.
  child.stdin.on('error', () => {});
  if (child.pid !== undefined) liveFfmpegPids.add(child.pid);
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      tail += `\n${err.message}`;
      if (child.pid !== undefined) liveFfmpegPids.delete(child.pid);
      resolve(null);
    });
    child.once('exit', (code) => {
      if (child.pid !== undefined) liveFfmpegPids.delete(child.pid);
      resolve(code);
    });
  });
  return { child, stderrTail: () => tail.trim().split('\n').slice(-3).join(' | '), exited };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves once it is gone. */
export async function stopFfmpeg(p: { child: FfmpegChild; exited: Promise<number | null> }, graceMs = 1000): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin.destroy();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
