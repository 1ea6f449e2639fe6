/**
 * The frozen text encoder in Node: all-MiniLM-L6-v2 (int8-quantized ONNX exported by
 * models/training/pe_editor/export_text.py) with its BERT-uncased WordPiece tokenizer
 * reproduced here (parity-tested against the Python tokenizer, test/editor-text.test.ts).
 * embedding = L2-normalised mean of the last hidden states over the attention mask (384-d),
 * as sentence-transformers computes it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

const isWhitespace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || /\p{Zs}/u.test(c);
const isControl = (c: string): boolean => c !== '\t' && c !== '\n' && c !== '\r' && /\p{Cc}|\p{Cf}/u.test(c);
function isPunctuation(c: string): boolean {
  const cp = c.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(c);
}
function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

export class WordPieceTokenizer {
  readonly vocab = new Map<string, number>();
  readonly cls: number;
  readonly sep: number;
  readonly unk: number;

  constructor(vocabLines: string[], readonly maxLength = 256) {
    vocabLines.forEach((t, i) => { if (t.length && !this.vocab.has(t)) this.vocab.set(t, i); });
    this.cls = this.vocab.get('[CLS]')!;
    this.sep = this.vocab.get('[SEP]')!;
    this.unk = this.vocab.get('[UNK]')!;
  }

  static fromFile(file: string, maxLength = 256): WordPieceTokenizer {
    const lines = readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return new WordPieceTokenizer(lines, maxLength);
  }

  /** BERT BasicTokenizer, uncased: clean, split CJK, lowercase, strip accents, split punctuation. */
  basic(text: string): string[] {
    let clean = '';
    for (const c of text) {
      const cp = c.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
      clean += isWhitespace(c) ? ' ' : isCjk(cp) ? ` ${c} ` : c;
    }
    const out: string[] = [];
    for (const w of clean.split(' ')) {
      if (!w) continue;
      const t = w.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
      let cur = '';
      for (const c of t) {
        if (isPunctuation(c)) {
          if (cur) out.push(cur);
          out.push(c);
          cur = '';
        } else cur += c;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  wordPiece(word: string): number[] {
    const chars = [...word];
    if (chars.length > 100) return [this.unk];
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found = -1;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        const id = this.vocab.get(sub);
        if (id !== undefined) { found = id; break; }
        end--;
      }
      if (found < 0) return [this.unk];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /** [CLS] pieces… [SEP], truncated to maxLength. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const w of this.basic(text)) ids.push(...this.wordPiece(w));
    return [this.cls, ...ids.slice(0, this.maxLength - 2), this.sep];
  }
}

export class TextEncoder384 {
  private constructor(readonly session: ort.InferenceSession, readonly tokenizer: WordPieceTokenizer) {}

  static exists(dir: string): boolean {
    return ['minilm-int8.onnx', 'minilm-int8.emb.bin', 'minilm-vocab.txt'].every((f) => existsSync(path.join(dir, f)));
  }

  static async load(dir: string, threads = 1): Promise<TextEncoder384> {
    const session = await ort.InferenceSession.create(path.join(dir, 'minilm-int8.onnx'), {
      executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    });
    return new TextEncoder384(session, WordPieceTokenizer.fromFile(path.join(dir, 'minilm-vocab.txt')));
  }

  async embed(text: string): Promise<Float32Array> {
    const ids = this.tokenizer.encode(text);
    const L = ids.length;
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, L]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(L).fill(1n), [1, L]),
    });
    return Float32Array.from(out.embedding.data as Float32Array);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
