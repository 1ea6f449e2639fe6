import fs from 'node:fs';

/**
 * A process that exists and has not exited. Unlike `kill(pid, 0)` a zombie counts as gone: a
 * process whose parent was killed is reparented to PID 1, which in some containers never
 * reaps it, yet it holds no memory, ports or CPU.
 */
export function processRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Sends a signal, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}
