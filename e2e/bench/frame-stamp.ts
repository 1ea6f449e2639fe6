/**
 * A frame counter drawn into the luma plane as 10 black/white blocks (32×16 px each) near the
 * top edge, so a receiver can tell which sent frame it is looking at after VP8 and the filter
 * loop: glass-to-glass latency measured without trusting the server's own clocks.
 */
export const STAMP_BITS = 10;
const BW = 32;
const BH = 16;

export function stampX(width: number): number {
  return Math.max(0, Math.floor((width - STAMP_BITS * BW) / 2));
}

export function writeStamp(y: Uint8Array, width: number, value: number): void {
  const x0 = stampX(width);
  for (let b = 0; b < STAMP_BITS; b++) {
    const v = (value >> b) & 1 ? 235 : 16;
    for (let r = 0; r < BH; r++) y.fill(v, r * width + x0 + b * BW, r * width + x0 + (b + 1) * BW);
  }
}

/** Reads the counter back (centre of each block); -1 if a block is not clearly black or white. */
export function readStamp(y: Uint8Array, width: number): number {
  const x0 = stampX(width);
  let value = 0;
  for (let b = 0; b < STAMP_BITS; b++) {
    let sum = 0;
    let n = 0;
    for (let r = 4; r < BH - 4; r++) {
      for (let c = x0 + b * BW + 8; c < x0 + (b + 1) * BW - 8; c++) {
        sum += y[r * width + c];
        n++;
      }
    }
    const m = sum / n;
    if (m > 80 && m < 170) return -1;
    if (m >= 170) value |= 1 << b;
  }
  return value;
}
