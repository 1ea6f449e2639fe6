import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FILTER_SETTINGS, type FilterSettings } from '@portrait-edit/shared';
import { PortraitEditor, EDITOR_ASSETS, EDITOR_SIZE, frontalCamera } from '../src/editor/portrait-editor.js';
import { EditorProcessor } from '../src/editor/processor.js';
import { SupersededError } from '../src/editor/staged-editor.js';
import { cameraForView } from '../src/tracking/head-pose.js';
import { readImage } from '../src/tracking/media-io.js';
import type { Frame } from '../src/frame.js';
import { SLOW, facesDir, gradientFrame } from './helpers.js';

const N = EDITOR_SIZE;

function parityFixture(): Record<string, Float32Array> {
  const meta = JSON.parse(readFileSync(path.join(EDITOR_ASSETS, 'parity.json'), 'utf8')) as Record<string, { offset: number; shape: number[] }>;
  const buf = readFileSync(path.join(EDITOR_ASSETS, 'parity.bin'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: Record<string, Float32Array> = {};
  for (const [k, m] of Object.entries(meta)) out[k] = all.slice(m.offset, m.offset + m.shape.reduce((a, b) => a * b, 1));
  return out;
}

const meanAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

describe('PortraitEditor (committed ONNX on onnxruntime-node)', () => {
  // What everything runs by default (the graph in stages), and the
  // whole graph editor.onnx (its parity with PyTorch; speed comparisons).
  let ed: PortraitEditor;
  let whole: PortraitEditor;
  beforeAll(async () => {
    ed = await PortraitEditor.load({ threads: 1 });
    whole = await PortraitEditor.load({ threads: 2, staged: false, textEncoder: false });
  }, SLOW);
  afterAll(async () => {
    await ed?.close();
    await whole?.close();
  });

  it.each([
    ['the whole graph', () => whole, {}],
    ['the staged sessions', () => ed, { stop: () => false }],
  ])('matches PyTorch on the export fixture (max abs diff < 1e-3): %s', async (_, editor, how) => {
    const p = parityFixture();
    const out = await editor().edit({ image: p.image, srcCam: p.src_cam, tgtCam: p.tgt_cam, tokens: p.tokens, norm: p.norm, meshDepth: p.mesh_depth }, how);
    let d = 0;
    for (let i = 0; i < out.rgb.length; i++) d = Math.max(d, Math.abs(out.rgb[i] - p.rgb[i]));
    for (let i = 0; i < out.depth.length; i++) d = Math.max(d, Math.abs(out.depth[i] - p.depth[i]));
    expect(d).toBeLessThan(1e-3);
  });

  it('a staged run stops between stages when told to', async () => {
    const p = parityFixture();
    let asked = 0;
    const run = ed.edit({ image: p.image, srcCam: p.src_cam, tgtCam: p.tgt_cam, tokens: p.tokens, norm: p.norm }, { stop: () => ++asked >= 2 });
    await expect(run).rejects.toBeInstanceOf(SupersededError);
    expect(asked).toBe(2);
  });

  it('staged and whole agree at the source view too (there the staged run skips the lift)', async () => {
    const p = parityFixture();
    const inp = { image: p.image, srcCam: p.src_cam, tgtCam: p.src_cam, tokens: p.tokens, norm: p.norm, meshDepth: p.mesh_depth };
    const a = await ed.edit(inp, { stop: () => false });
    const b = await whole.edit(inp);
    let d = 0;
    for (let i = 0; i < a.rgb.length; i++) d = Math.max(d, Math.abs(a.rgb[i] - b.rgb[i]));
    expect(d).toBeLessThan(1e-4);
    // and the novel view differs from it
    expect(meanAbs(a.rgb, p.rgb)).toBeGreaterThan(1e-3);
  });

  it('outputs a 3×256² image in [0,1] and a plausible depth; the prompt changes the output', async () => {
    const p = parityFixture();
    const cam = frontalCamera();
    const gold = (await ed.textTokens('make him a golden statue'))!;
    const sketch = (await ed.textTokens('a pencil sketch'))!;
    expect(gold.style).toBe('golden_statue');
    expect(sketch.style).toBe('pencil_sketch');
    const a = await ed.edit({ image: p.image, srcCam: cam, tgtCam: cam, tokens: gold.tokens });
    const b = await ed.edit({ image: p.image, srcCam: cam, tgtCam: cam, tokens: sketch.tokens });
    expect(a.rgb.length).toBe(3 * N * N);
    expect(a.depth.length).toBe(32 * 32);
    // one expect per range (not per value: 196k expects take seconds)
    const range = (v: Float32Array) => v.reduce(([lo, hi], x) => [Math.min(lo, x), Math.max(hi, x)], [Infinity, -Infinity]);
    const [rLo, rHi] = range(a.rgb);
    const [dLo, dHi] = range(a.depth);
    expect(rLo).toBeGreaterThanOrEqual(0);
    expect(rHi).toBeLessThanOrEqual(1);
    expect(dLo).toBeGreaterThan(2);
    expect(dHi).toBeLessThan(3.5);
    expect(meanAbs(a.rgb, b.rgb)).toBeGreaterThan(0.01);
    // and the view changes it too
    const c = await ed.edit({ image: p.image, srcCam: cam, tgtCam: cameraForView(25, 0), tokens: gold.tokens });
    expect(meanAbs(a.rgb, c.rgb)).toBeGreaterThan(0.002);
  }, SLOW);

  it('maps prompts: exact phrasings, style ids, free text through MiniLM; bank fallback by words', async () => {
    const bank = ed.bank;
    expect(bank.entries.length).toBe(14 * 13);
    expect((await ed.textTokens('golden-statue'))!.how).toBe('style-id');
    const e = bank.entries.find((x) => x.split === 'test')!;
    expect((await ed.textTokens(e.text))!.how).toBe('exact');
    expect(ed.hasTextEncoder).toBe(true);
    const z = (await ed.textTokens('make me look like the walking dead, rotting skin'))!;
    expect(z.how).toBe('encoder');
    expect(z.style).toBe('zombie');
    expect(z.tokens.length).toBe(bank.k * bank.d);
    // the word-overlap fallback (no encoder)
    expect(bank.match('zombie please')!.style).toBe('zombie');
    expect(bank.match('qwxz vbnm')).toBeNull();
  });

  it('image prompts give tokens of the right size that differ between references', async () => {
    const w = 64, mk = (r: number, g: number, b: number): Frame => {
      const data = new Uint8Array(w * w * 3);
      for (let i = 0; i < w * w; i++) { data[3 * i] = r; data[3 * i + 1] = g + (i % 7) * 9; data[3 * i + 2] = b; }
      return { width: w, height: w, data, timestampMs: 0 };
    };
    const t1 = await ed.imageTokens(mk(220, 180, 40));
    const t2 = await ed.imageTokens(mk(30, 40, 200));
    expect(t1.length).toBe(ed.bank.k * ed.bank.d);
    expect(meanAbs(t1, t2)).toBeGreaterThan(1e-3);
  });
});

describe('editor FrameProcessor', () => {
  const proc = new EditorProcessor({ threads: 2 });
  beforeAll(async () => {
    await proc.init();
  }, SLOW);
  afterAll(async () => proc.close());
  const settings = (over: Partial<FilterSettings>): FilterSettings => ({ ...DEFAULT_FILTER_SETTINGS, enabled: true, ...over });

  it('passes frames through without a prompt or without a face', async () => {
    const f = gradientFrame(320, 240);
    const r1 = await proc.process(f, { peerId: 'p', settings: settings({ prompt: null }) });
    expect(r1).toMatchObject({ edited: false, reason: 'no prompt' });
    const before = f.data.slice();
    const r2 = await proc.process(f, { peerId: 'p', settings: settings({ prompt: { kind: 'text', text: 'golden statue' } }) });
    expect(r2).toMatchObject({ edited: false, reason: 'no face' });
    expect(Buffer.compare(Buffer.from(before), Buffer.from(r2.frame.data))).toBe(0);
  }, SLOW);

  it('edits a real portrait at the source view and at a novel view', async () => {
    const src = await readImage(path.join(facesDir, 'ffhq-1.png'));
    const f = { ...src, data: src.data.slice() };
    const r = await proc.process(f, { peerId: 'p', settings: settings({ prompt: { kind: 'text', text: 'turn into a bronze sculpture' } }) });
    expect(r.edited).toBe(true);
    expect(r.frame.width).toBe(src.width);
    expect(meanAbs(r.frame.data, src.data)).toBeGreaterThan(1);
    expect(proc.lastPrompt?.style).toBe('bronze');
    const g = { ...src, data: src.data.slice() };
    const r2 = await proc.process(g, { peerId: 'p', settings: settings({ prompt: { kind: 'preset', id: 'sepia' }, view: { yaw: 0, pitch: 0, frontalize: true } }) });
    expect(r2.edited).toBe(true);
    expect(meanAbs(r2.frame.data, src.data)).toBeGreaterThan(1);
  }, SLOW);
});
