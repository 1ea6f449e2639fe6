import type { Frame, FrameProcessor, ProcessContext } from '@portrait-edit/models';

/**
 * TEST EFFECT, not an edit: inverts every channel so tests can prove with a pixel check that
 * frames really went through the loop (skin goes blue). Never offered to users as editing.
 * Strength blends towards the inverted image, so settings changes are visible too.
 */
export class TestInvertProcessor implements FrameProcessor {
  readonly name = 'test-invert';
  private lut = new Uint8Array(256);
  private lutStrength = -1;

  process(frame: Frame, ctx: ProcessContext) {
    const s = ctx.settings.strength;
    if (s !== this.lutStrength) {
      for (let v = 0; v < 256; v++) this.lut[v] = Math.round(v + (255 - 2 * v) * s);
      this.lutStrength = s;
    }
    const d = frame.data;
    const lut = this.lut;
    for (let i = 0; i < d.length; i++) d[i] = lut[d[i]];
    return { frame, edited: true };
  }
}
