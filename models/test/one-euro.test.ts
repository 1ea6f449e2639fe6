import { describe, expect, it } from 'vitest';
import { OneEuroFilter, OneEuroVector } from '../src/tracking/one-euro.js';

// Deterministic pseudo-random noise (LCG) so the tests never flake.
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const variance = (xs: number[]): number => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
};

describe('OneEuroFilter', () => {
  it('passes the first sample through and keeps a constant signal constant', () => {
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0, dCutoff: 1 });
    expect(f.filter(5, 0)).toBe(5);
    for (let i = 1; i < 50; i++) expect(f.filter(5, i / 30)).toBeCloseTo(5, 10);
  });

  it('removes most jitter from a still signal', () => {
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0.05, dCutoff: 1 });
    const rnd = noise(1);
    const raw: number[] = [], out: number[] = [];
    for (let i = 0; i < 300; i++) {
      const v = 10 + 2 * rnd();
      raw.push(v);
      out.push(f.filter(v, i / 30));
    }
    // Skip the warm-up; the smoothed variance must be far below the raw variance.
    expect(variance(out.slice(30))).toBeLessThan(0.2 * variance(raw.slice(30)));
  });

  it('lags less on fast motion when beta is larger', () => {
    const lagFor = (beta: number): number => {
      const f = new OneEuroFilter({ minCutoff: 1, beta, dCutoff: 1 });
      let lag = 0;
      for (let i = 0; i < 60; i++) {
        const v = 100 * (i / 30); // 100 units/s ramp
        lag = v - f.filter(v, i / 30);
      }
      return lag;
    };
    const slow = lagFor(0), fast = lagFor(1);
    expect(slow).toBeGreaterThan(5);
    expect(fast).toBeLessThan(slow / 3);
  });

  it('uses a default step when timestamps do not advance, and reset() forgets state', () => {
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0, dCutoff: 1 });
    f.filter(0, 1);
    const y = f.filter(10, 1); // same timestamp
    expect(Number.isFinite(y)).toBe(true);
    expect(y).toBeGreaterThan(0);
    expect(y).toBeLessThan(10);
    f.reset();
    expect(f.filter(42, 2)).toBe(42);
  });
});

describe('OneEuroVector', () => {
  it('matches the scalar filter element-wise (with unit = 1)', () => {
    const p = { minCutoff: 1.2, beta: 0.3, dCutoff: 1 };
    const v = new OneEuroVector(3, p);
    const s = [new OneEuroFilter(p), new OneEuroFilter(p), new OneEuroFilter(p)];
    const rnd = noise(7);
    for (let i = 0; i < 40; i++) {
      const x = [rnd() * 10, 5 + i, -3 + rnd()];
      const out = v.filter(x, i / 25);
      for (let k = 0; k < 3; k++) expect(out[k]).toBeCloseTo(s[k].filter(x[k], i / 25), 4);
    }
  });

  it('scales the speed term by unit so beta is size-free', () => {
    // A ramp at 2 units/s with unit 1 and a ramp at 200 units/s with unit 100 lag the same
    // relative amount.
    const run = (scale: number): number => {
      const v = new OneEuroVector(1, { minCutoff: 1, beta: 2, dCutoff: 1 });
      let lag = 0;
      for (let i = 0; i < 60; i++) {
        const x = 2 * scale * (i / 30);
        lag = x - v.filter([x], i / 30, scale)[0];
      }
      return lag / scale;
    };
    expect(run(100)).toBeCloseTo(run(1), 3);
  });

  it('rejects vectors of the wrong length', () => {
    expect(() => new OneEuroVector(4).filter([1, 2, 3], 0)).toThrow(/expected 4/);
  });
});
