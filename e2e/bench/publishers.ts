import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { REPO_ROOT } from '../src/fixtures.js';

/** Publishers in a child process: its CPU is theirs, ours is the server's. */
export async function startPublishers(url: string, token: string, n: number, fps: number, prompt: string, receiver: boolean) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'publisher-proc.ts'), url, token, String(n), String(fps), prompt, receiver ? '1' : '0'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: path.join(REPO_ROOT, 'e2e'),
  });
  const lines = readline.createInterface({ input: child.stdout });
  // One exit listener for the whole run (one per request would pile up over a long soak).
  let failPending: ((e: Error) => void) | null = null;
  child.once('exit', (c) => failPending?.(new Error(`publisher process exited (${c})`)));
  const next = () => new Promise<string>((resolve, reject) => {
    failPending = reject;
    lines.once('line', (l) => {
      failPending = null;
      resolve(l);
    });
  });
  const ready = await next();
  if (!ready.startsWith('ready')) throw new Error(`publishers: ${ready}`);
  return {
    pid: child.pid!,
    send: async (cmd: string): Promise<string> => {
      child.stdin.write(`${cmd}\n`);
      return cmd === 'quit' ? '' : next();
    },
    done: new Promise((r) => child.once('exit', r)),
  };
}

export type Publishers = Awaited<ReturnType<typeof startPublishers>>;
