/** Summary statistics of tracked clips: tracked fraction and pose jitter. */

/**
 * Frame-level jitter of a series (degrees): RMS distance of each sample from the midpoint of
 * its neighbours. Smooth motion (constant velocity) scores 0, so this measures noise, not
 * how much the head moved. NaN entries (untracked frames) break the series.
 */
export function jitter(series: readonly number[]): number {
  let s = 0, n = 0;
  for (let i = 1; i + 1 < series.length; i++) {
    const a = series[i - 1], b = series[i], c = series[i + 1];
    if (!Number.isFinite(a) || !Number.isFinite(b) || !Number.isFinite(c)) continue;
    const d = b - (a + c) / 2;
    s += d * d;
    n++;
  }
  return n ? Math.sqrt(s / n) : 0;
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}
