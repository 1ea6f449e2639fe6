import { BACKGROUND_KEY } from '@portrait-edit/shared';

/**
 * Cuts the key colour out of a video that a participant sent with `background: 'key'` (see
 * shared/src/settings.ts): draws each new frame into a canvas with alpha from the distance to
 * the key colour. VP8 and 4:2:0 chroma blur the key around the person, so the alpha ramps over
 * a band of "greenness" instead of a hard threshold, and the green spill left in edge pixels is
 * clamped away. What shows through the transparent pixels is the canvas's CSS background: a
 * neutral backdrop in call tiles, nothing at all on the view-only page with `transparent=1`.
 */
export class Keyer {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private running = false;
  private handle = 0;
  private rvfcVideo: HTMLVideoElement | null = null;

  /** `source` is read on every frame: tiles swap their video element when a stream changes. */
  constructor(private readonly source: () => HTMLVideoElement) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'keyed';
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true })!;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.rvfcVideo) this.rvfcVideo.cancelVideoFrameCallback?.(this.handle);
    else cancelAnimationFrame(this.handle);
    this.rvfcVideo = null;
  }

  /** The tile now shows another video element: follow it (the old one stops giving frames). */
  retarget(): void {
    if (!this.running) return;
    if (this.rvfcVideo) this.rvfcVideo.cancelVideoFrameCallback?.(this.handle);
    else cancelAnimationFrame(this.handle);
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    const v = this.source();
    if (typeof v.requestVideoFrameCallback === 'function') {
      this.rvfcVideo = v;
      this.handle = v.requestVideoFrameCallback(() => this.draw());
    } else {
      this.rvfcVideo = null;
      this.handle = requestAnimationFrame(() => this.draw());
    }
  }

  private draw(): void {
    if (!this.running) return;
    const v = this.source();
    const w = v.videoWidth, h = v.videoHeight;
    if (w && h) {
      if (this.canvas.width !== w || this.canvas.height !== h) {
        this.canvas.width = w;
        this.canvas.height = h;
      }
      this.ctx.drawImage(v, 0, 0, w, h);
      const img = this.ctx.getImageData(0, 0, w, h);
      keyOut(img.data);
      this.ctx.putImageData(img, 0, 0);
    }
    this.schedule();
  }
}

/** RGBA in place: alpha 0 at the key colour, 255 away from it, a ramp between. */
export function keyOut(d: Uint8ClampedArray): void {
  // Greenness = G − max(R, B) for a green key; generalised to "key channel minus the others".
  const k = BACKGROUND_KEY;
  const main = k[1] >= k[0] && k[1] >= k[2] ? 1 : k[0] >= k[2] ? 0 : 2;
  const o1 = (main + 1) % 3, o2 = (main + 2) % 3;
  const lo = 50, hi = 130;
  for (let i = 0; i < d.length; i += 4) {
    const other = Math.max(d[i + o1], d[i + o2]);
    const g = d[i + main] - other;
    if (g <= lo) continue;
    if (g >= hi) {
      d[i + 3] = 0;
      continue;
    }
    const t = (g - lo) / (hi - lo);
    d[i + 3] = Math.round(255 * (1 - t * t * (3 - 2 * t)));
    d[i + main] = other; // despill
  }
}
