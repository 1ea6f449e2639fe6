import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDITOR_ASSETS } from '../src/editor/portrait-editor.js';
import { TextEncoder384, WordPieceTokenizer } from '../src/editor/text-encoder.js';
import { SLOW } from './helpers.js';

const fixture = JSON.parse(readFileSync(path.join(EDITOR_ASSETS, 'minilm-fixture.json'), 'utf8')) as {
  texts: string[]; ids: number[][]; embeddings_fp32: Record<string, number[]>;
};

describe('MiniLM text encoder in Node', () => {
  it('tokenizes exactly like the Python BERT tokenizer', () => {
    const tok = WordPieceTokenizer.fromFile(path.join(EDITOR_ASSETS, 'minilm-vocab.txt'));
    fixture.texts.forEach((t, i) => expect(tok.encode(t), t).toEqual(fixture.ids[i]));
  });

  let enc: TextEncoder384;
  beforeAll(async () => {
    enc = await TextEncoder384.load(EDITOR_ASSETS);
  }, SLOW);
  afterAll(async () => enc?.close());

  it('int8 embeddings stay close to the fp32 sentence-transformers ones (cosine > 0.97)', async () => {
    for (const [t, ref] of Object.entries(fixture.embeddings_fp32)) {
      const e = await enc.embed(t);
      let c = 0, n = 0;
      for (let i = 0; i < e.length; i++) { c += e[i] * ref[i]; n += e[i] * e[i]; }
      expect(Math.abs(Math.sqrt(n) - 1)).toBeLessThan(1e-3);
      expect(c, t).toBeGreaterThan(0.97);
    }
  }, SLOW);
});
