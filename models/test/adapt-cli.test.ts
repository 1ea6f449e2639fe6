import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { TEACHER_PYTHON } from '../src/cli/edit.js';
import { EDITOR_ASSETS, PortraitEditor } from '../src/editor/portrait-editor.js';
import { facesDir } from './helpers.js';

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pe-adapt-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const CAN_TRAIN = fs.existsSync(TEACHER_PYTHON) && fs.existsSync(path.join(EDITOR_ASSETS, 'editor.pt'));

describe('portrait-edit adapt', () => {
  it('refuses bad usage and unusable pairs with exit 2 and a message', async () => {
    const out = path.join(tmp, 'style.bin');
    expect((await run('adapt', '-o', out)).code).toBe(2); // no --pairs
    expect((await run('adapt', '--pairs', tmp)).code).toBe(2); // no -o / --install
    expect((await run('adapt', '--pairs', tmp, '-o', path.join(tmp, 'style.json'))).code).toBe(2);
    expect((await run('adapt', '--pairs', tmp, '--minutes', '0', '-o', out)).code).toBe(2);
    const badName = await run('adapt', '--pairs', tmp, '-o', path.join(tmp, 'My Style.bin'));
    expect(badName.code).toBe(2);
    expect(badName.err).toMatch(/style id/);
    const missing = await run('adapt', '--pairs', path.join(tmp, 'nope'), '-o', out);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/not a folder/);
  });

  it.skipIf(!CAN_TRAIN)('trains a style from a folder of pairs that the editor runtime loads', async () => {
    const pairs = path.join(tmp, 'pairs');
    fs.mkdirSync(path.join(pairs, 'before'), { recursive: true });
    fs.mkdirSync(path.join(pairs, 'after'), { recursive: true });
    for (const i of [1, 2]) {
      const src = path.join(facesDir, `ffhq-${i}.png`);
      fs.copyFileSync(src, path.join(pairs, 'before', `f${i}.png`));
      await sharp(src).negate({ alpha: false }).png().toFile(path.join(pairs, 'after', `f${i}.png`));
    }
    // one pair only: refused by the trainer with its reason
    const lone = path.join(tmp, 'lone');
    fs.mkdirSync(lone);
    fs.copyFileSync(path.join(facesDir, 'ffhq-1.png'), path.join(lone, 'a_before.png'));
    fs.copyFileSync(path.join(facesDir, 'ffhq-1.png'), path.join(lone, 'a_after.png'));
    const one = await run('adapt', '--pairs', lone, '--minutes', '0.05', '-o', path.join(tmp, 'lone.bin'));
    expect(one.code).toBe(2);
    expect(one.err).toMatch(/at least 2/);

    const out = path.join(tmp, 'out', 'negative.bin');
    const r = await run('adapt', '--pairs', pairs, '--minutes', '0.1', '-o', out, '--label', 'Negative');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/step/);
    const meta = JSON.parse(fs.readFileSync(out.replace(/\.bin$/, '.json'), 'utf8'));
    expect(meta).toMatchObject({ name: 'negative', label: 'Negative', pairs: 2, k: 8, d: 64, normDim: 368 });
    expect(meta.editor.weights).toMatch(/^[0-9a-f]{16}$/);
    expect(fs.statSync(out).size).toBe(4 * (8 * 64 + 368));
    // the runtime reads it from a styles folder (as the server's data directory)
    const prev = process.env.PE_DATA_DIR;
    process.env.PE_DATA_DIR = path.join(tmp, 'data');
    try {
      fs.mkdirSync(path.join(tmp, 'data', 'styles'), { recursive: true });
      for (const ext of ['.bin', '.json']) fs.copyFileSync(out.replace(/\.bin$/, ext), path.join(tmp, 'data', 'styles', `negative${ext}`));
      const ed = await PortraitEditor.load({ warmup: false, textEncoder: false });
      const s = ed.adaptedStyle('negative');
      expect(s?.tokens.length).toBe(8 * 64);
      expect(Array.from(s!.norm).every(Number.isFinite)).toBe(true);
      await ed.close();
    } finally {
      if (prev === undefined) delete process.env.PE_DATA_DIR;
      else process.env.PE_DATA_DIR = prev;
    }
  }, 240_000);
});
