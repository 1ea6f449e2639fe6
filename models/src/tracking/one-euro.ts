/**
 * One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass filter whose cutoff rises with
 * the signal's speed, so slow jitter is smoothed hard while fast motion keeps little lag.
 * Used on mesh landmarks and head pose; timestamps come from the frames (not wall time) so the
 * result does not depend on how fast we process.
 */
export interface OneEuroParams {
  /** Cutoff (Hz) at zero speed: lower = smoother when still. */
  minCutoff: number;
  /** Speed coefficient: higher = less lag when moving. */
  beta: number;
  /** Cutoff (Hz) used to smooth the derivative. */
  dCutoff: number;
}

export const DEFAULT_ONE_EURO: OneEuroParams = { minCutoff: 1.0, beta: 0.05, dCutoff: 1.0 };

function alpha(cutoff: number, dt: number): number {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
}

/** Fallback step when timestamps do not advance (still images, duplicated frames). */
const DEFAULT_DT = 1 / 30;

export class OneEuroFilter {
  private x: number | null = null;
  private dx = 0;
  private t = 0;
  constructor(private readonly p: OneEuroParams = DEFAULT_ONE_EURO) {}

  reset(): void {
    this.x = null;
    this.dx = 0;
  }

  /** Filter value `v` observed at time `tSec` (seconds). */
  filter(v: number, tSec: number): number {
    if (this.x === null) {
      this.x = v;
      this.dx = 0;
      this.t = tSec;
      return v;
    }
    let dt = tSec - this.t;
    if (!(dt > 0)) dt = DEFAULT_DT;
    this.t = tSec;
    const rawDx = (v - this.x) / dt;
    this.dx += alpha(this.p.dCutoff, dt) * (rawDx - this.dx);
    const cutoff = this.p.minCutoff + this.p.beta * Math.abs(this.dx);
    this.x += alpha(cutoff, dt) * (v - this.x);
    return this.x;
  }
}

/**
 * Element-wise One-Euro over a fixed-length vector (e.g. 468×3 mesh coordinates), with state in
 * typed arrays so filtering a mesh costs microseconds.
 */
export class OneEuroVector {
  private x: Float64Array;
  private dx: Float64Array;
  private t = 0;
  private primed = false;
  constructor(readonly length: number, private readonly p: OneEuroParams = DEFAULT_ONE_EURO) {
    this.x = new Float64Array(length);
    this.dx = new Float64Array(length);
  }

  reset(): void {
    this.primed = false;
  }

  /**
   * Filter `v` observed at `tSec`. `unit` (e.g. the face size in pixels) only scales the speed
   * term, so `beta` means "per face-size per second" whatever the face's size in the frame.
   */
  filter(v: ArrayLike<number>, tSec: number, unit = 1, out: Float32Array = new Float32Array(this.length)): Float32Array {
    if (v.length !== this.length) throw new Error(`OneEuroVector: expected ${this.length} values, got ${v.length}`);
    if (!this.primed) {
      for (let i = 0; i < this.length; i++) {
        this.x[i] = v[i];
        this.dx[i] = 0;
        out[i] = v[i];
      }
      this.t = tSec;
      this.primed = true;
      return out;
    }
    let dt = tSec - this.t;
    if (!(dt > 0)) dt = DEFAULT_DT;
    this.t = tSec;
    const ad = alpha(this.p.dCutoff, dt);
    const beta = this.p.beta / (unit > 0 ? unit : 1);
    for (let i = 0; i < this.length; i++) {
      const vi = v[i];
      const rawDx = (vi - this.x[i]) / dt;
      this.dx[i] += ad * (rawDx - this.dx[i]);
      const a = alpha(this.p.minCutoff + beta * Math.abs(this.dx[i]), dt);
      this.x[i] += a * (vi - this.x[i]);
      out[i] = this.x[i];
    }
    return out;
  }
}
