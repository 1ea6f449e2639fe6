import { BACKGROUND_KEY } from '@portrait-edit/shared';
import type { Frame, FrameProcessor, ProcessContext, ProcessResult, SelfieMatte } from '@portrait-edit/models';

const M = 256; // the selfie segmentation model's input side

/**
 * When the participant asks for `background: 'key'`, paints everything outside the person in
 * the key colour after the processor ran, so receivers can cut the person out (VP8 has no
 * alpha channel). The person matte is MediaPipe selfie segmentation on the whole output frame
 * (its 'general' model takes the frame squeezed to 256², as MediaPipe feeds it), so an edited
 * or re-rendered head is matted where it is now. The model loads on first use, off the frame
 * path: frames go out unkeyed until it is ready. Lookup tables and the model's input buffer are
 * made once per frame size; per frame only the model's output is allocated.
 */
export class BackgroundKey implements FrameProcessor {
  readonly name: string;
  private matte: SelfieMatte | null = null;
  private loading: Promise<void> | null = null;
  private loadError: string | null = null;
  private readonly input = new Float32Array(M * M * 3);
  private w = 0;
  private h = 0;
  /** Per output column/row: the matte cell to the left/above and the weight of the next one. */
  private mx0 = new Int32Array(0);
  private mfx = new Float32Array(0);
  private my0 = new Int32Array(0);
  private mfy = new Float32Array(0);
  /** Per matte column/row: the frame column/row it samples. */
  private sx = new Int32Array(M);
  private sy = new Int32Array(M);

  /** `inner`: public so the filter worker can reach the processor's prompt hooks. */
  constructor(readonly inner: FrameProcessor) {
    this.name = inner.name;
  }

  async init(): Promise<void> {
    await this.inner.init?.();
  }

  async process(frame: Frame, ctx: ProcessContext): Promise<ProcessResult> {
    const r = await this.inner.process(frame, ctx);
    if (ctx.settings.background !== 'key') return r;
    if (!this.matte) {
      this.loading ??= this.load();
      return { ...r, reason: r.reason ?? (this.loadError ?? 'loading the person matte') };
    }
    const out = r.frame;
    this.tables(out.width, out.height);
    const d = out.data;
    const inp = this.input;
    for (let y = 0, o = 0; y < M; y++) {
      const row = this.sy[y] * out.width;
      for (let x = 0; x < M; x++, o += 3) {
        const i = (row + this.sx[x]) * 3;
        inp[o] = d[i] / 255;
        inp[o + 1] = d[i + 1] / 255;
        inp[o + 2] = d[i + 2] / 255;
      }
    }
    const m = await this.matte.matteFromCrop(inp);
    const [kr, kg, kb] = BACKGROUND_KEY;
    for (let y = 0, i = 0; y < out.height; y++) {
      const y0 = this.my0[y], fy = this.mfy[y];
      const r0 = y0 * M, r1 = Math.min(y0 + 1, M - 1) * M;
      for (let x = 0; x < out.width; x++, i += 3) {
        const x0 = this.mx0[x], fx = this.mfx[x], x1 = Math.min(x0 + 1, M - 1);
        const top = m[r0 + x0] + (m[r0 + x1] - m[r0 + x0]) * fx;
        const bot = m[r1 + x0] + (m[r1 + x1] - m[r1 + x0]) * fx;
        // A firmer edge than the model's soft probability: less key colour bleeding into hair.
        let a = (top + (bot - top) * fy - 0.3) / 0.4;
        if (a >= 1) continue;
        a = a <= 0 ? 0 : a * a * (3 - 2 * a);
        d[i] = d[i] * a + kr * (1 - a);
        d[i + 1] = d[i + 1] * a + kg * (1 - a);
        d[i + 2] = d[i + 2] * a + kb * (1 - a);
      }
    }
    return r;
  }

  private tables(w: number, h: number): void {
    if (w === this.w && h === this.h) return;
    this.w = w;
    this.h = h;
    const axis = (n: number): [Int32Array<ArrayBuffer>, Float32Array<ArrayBuffer>] => {
      const i0 = new Int32Array(n), f = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        const u = Math.max(0, ((k + 0.5) * M) / n - 0.5);
        i0[k] = Math.min(M - 1, Math.floor(u));
        f[k] = u - i0[k];
      }
      return [i0, f];
    };
    [this.mx0, this.mfx] = axis(w);
    [this.my0, this.mfy] = axis(h);
    for (let k = 0; k < M; k++) {
      this.sx[k] = Math.min(w - 1, Math.floor(((k + 0.5) * w) / M));
      this.sy[k] = Math.min(h - 1, Math.floor(((k + 0.5) * h) / M));
    }
  }

  private async load(): Promise<void> {
    try {
      const { SelfieMatte } = await import('@portrait-edit/models');
      const m = new SelfieMatte();
      await m.init();
      this.matte = m;
    } catch (err) {
      this.loadError = `person matte unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}
