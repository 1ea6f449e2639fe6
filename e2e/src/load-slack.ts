import os from 'node:os';

/**
 * Time limits (recovery, switching) are for this machine doing one test. When it is shared with
 * far more work than it has cores (a run queue over twice the cores: training, other suites, or
 * on 2 cores the test's own browsers beside the server), every process here — Chromium, ffmpeg,
 * the worker — gets a fraction of a core and the same step takes longer; the limits then stretch
 * with the excess load (at most 4×), and the log says so.
 */
export function loadSlack(what: string): number {
  const load = os.loadavg()[0];
  const cores = os.availableParallelism();
  const k = Math.min(4, Math.max(1, load / (2 * cores)));
  if (k > 1) console.warn(`${what}: load average ${load.toFixed(1)} on ${cores} cores; time limits × ${k.toFixed(2)}`);
  return k;
}
