// The server's own liveness check (a zombie counts as gone), so tests judge processes the way it does.
export { processRunning } from '@portrait-edit/server/src/filter/filter-worker-pool.js';

/** Sends a signal, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}
