import { spawn } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import { BUSY_SILENCE_FACTOR, processCpu, SilenceJudge } from '../src/filter/filter-worker-pool.js';

// A silent filter worker is hung only if it is not computing: real processes, one spinning on
// the CPU, one stopped (what the fault test's 'hang' does to a worker).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
const stopped = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
afterAll(() => {
  busy.kill('SIGKILL');
  stopped.kill('SIGKILL');
});

/** Checks every 500 ms (the pipeline's heartbeat check) for `ms`, as if silent all along. */
async function judge(pid: number, silentFrom: number, limit: number, ms: number): Promise<number | null> {
  const j = new SilenceJudge(() => processCpu(pid));
  for (let t = 0; t <= ms; t += 500) {
    if (j.hung(silentFrom + t, limit)) return silentFrom + t;
    await sleep(500);
  }
  return null;
}

describe('hung or just slow', () => {
  test.skipIf(processCpu(process.pid) === null)('a silent worker using no CPU is hung at the limit; one computing gets longer', async () => {
    await sleep(300);
    stopped.kill('SIGSTOP');
    const limit = 1000;
    // Silent since 500 ms before the first check.
    expect(await judge(stopped.pid!, 500, limit, 3000)).toBe(1500);
    const busyAt = await judge(busy.pid!, 500, limit, limit * BUSY_SILENCE_FACTOR + 2000);
    expect(busyAt).toBeGreaterThan(limit * BUSY_SILENCE_FACTOR);
    expect(busyAt).toBeLessThanOrEqual(limit * BUSY_SILENCE_FACTOR + 500);
  }, 20_000);

  test('a worker that used CPU within the last 0.75 s, though not running right now, is computing', () => {
    let cpu = 0;
    let state = 'S';
    const j = new SilenceJudge(() => ({ cpuMs: cpu, state }));
    let t = 0;
    for (; t <= 3000; t += 500) {
      cpu += 10; // a starved worker: 10 ms of CPU per check, asleep whenever looked at
      expect(j.hung(t, 3000, t)).toBe(false);
    }
    // Then it stops getting CPU at all: hung once the window shows none.
    for (; t <= 5000; t += 500) if (j.hung(t, 3000, t)) break;
    expect(t).toBe(4000);
    state = 'R';
    expect(j.hung(11_000, 3000, 11_000)).toBe(false);
    expect(j.hung(12_500, 3000, 12_500)).toBe(true);
  });

  test('without CPU figures every silence past the limit is a hang', () => {
    const j = new SilenceJudge(() => null);
    expect(j.hung(900, 1000)).toBe(false);
    expect(j.hung(1100, 1000)).toBe(true);
  });
});
