import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { parseEditArgs, runTeacher } from '../src/cli/edit.js';
import { SLOW, facesDir, gradientFrame } from './helpers.js';

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pe-edit-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const face = (): string => path.join(facesDir, 'ffhq-9.png');

describe('portrait-edit edit', () => {
  it('rejects bad usage and bad inputs with exit 2 and a message', async () => {
    const out = path.join(tmp, 'x.png');
    expect((await run('edit', face(), '-o', out)).code).toBe(2); // no prompt
    expect((await run('edit', face(), '--prompt', 'gold', '--engine', 'gan', '-o', out)).code).toBe(2);
    expect((await run('edit', face(), '--prompt', 'gold', '--yaw', '80', '-o', out)).code).toBe(2);
    expect((await run('edit', face(), '--prompt', 'gold', '--strength', '2', '-o', out)).code).toBe(2);
    expect((await run('edit', face(), '--prompt', 'gold')).code).toBe(2); // no -o
    expect((await run('edit', face(), '--prompt', 'gold', '--ref', face(), '-o', out)).code).toBe(2);
    const missing = await run('edit', path.join(tmp, 'nope.png'), '--prompt', 'gold', '-o', out);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.png/);
    const txt = path.join(tmp, 'not-an-image.png');
    fs.writeFileSync(txt, 'hello');
    expect((await run('edit', txt, '--prompt', 'gold', '-o', out)).code).toBe(2);
    const g = gradientFrame(200, 160);
    const noFace = path.join(tmp, 'gradient.png');
    await sharp(Buffer.from(g.data), { raw: { width: g.width, height: g.height, channels: 3 } }).png().toFile(noFace);
    const nf = await run('edit', noFace, '--prompt', 'golden statue', '-o', out);
    expect(nf.code).toBe(2);
    expect(nf.err).toMatch(/no face/);
    expect(fs.existsSync(out)).toBe(false);
  }, SLOW);

  it('edits at the source view (input size) and at a novel view (--size²)', async () => {
    const a = path.join(tmp, 'a.png');
    const r = await run('edit', face(), '--engine', '3dpe', '--prompt', 'a statue of pure gold', '-o', a);
    expect(r.code, r.err).toBe(0);
    const info = JSON.parse(r.out) as { style: string; view: string };
    expect(info).toMatchObject({ style: 'golden_statue', view: 'source' });
    const src = await sharp(face()).metadata();
    const ma = await sharp(a).metadata();
    expect([ma.width, ma.height]).toEqual([src.width, src.height]);
    const b = path.join(tmp, 'b.png');
    const r2 = await run('edit', face(), '--prompt', 'pencil sketch', '--yaw', '20', '--pitch', '0', '--size', '200', '-o', b);
    expect(r2.code, r2.err).toBe(0);
    expect(JSON.parse(r2.out)).toMatchObject({ view: 'novel', yaw: 20, pitch: 0 });
    const mb = await sharp(b).metadata();
    expect([mb.width, mb.height]).toEqual([200, 200]);
  }, SLOW);

  it('builds the teacher command as an argument array (no shell) and reports a missing venv', async () => {
    const a = parseEditArgs([face(), '--engine', 'teacher', '--prompt', 'gold; rm -rf /', '--yaw', '10', '-o', 'o.png']);
    expect(a).toMatchObject({ engine: 'teacher', prompt: 'gold; rm -rf /', yaw: 10, pitch: undefined });
    let err = '';
    const code = await runTeacher(a, { stdout: () => undefined, stderr: (s) => (err += s) }, path.join(tmp, 'no-python'));
    expect(code).toBe(1);
    expect(err).toMatch(/setup-venv/);
  });
});
