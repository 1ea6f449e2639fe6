/**
 * Prompt tokens for the editor, precomputed at export time (models/assets/editor/prompts.*):
 * for every phrasing of the 14 styles (8 training + 5 held-out each), tokens =
 * text_proj(all-MiniLM-L6-v2(phrasing)). The text encoder itself does not run in Node:
 * a free-text prompt goes to the NEAREST KNOWN PHRASING by word overlap (see `match`), so
 * only wordings close to the known ones are understood. Style ids ("golden_statue",
 * "golden-statue") match exactly.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface PromptEntry {
  style: string;
  text: string;
  split: 'train' | 'test';
  offset: number;
}

export interface PromptMatch {
  style: string;
  /** The known phrasing whose tokens are used. */
  text: string;
  /** 'exact' (a known phrasing), 'style-id', 'nearest' (word overlap) or 'encoder' (MiniLM → projection). */
  how: 'exact' | 'style-id' | 'nearest' | 'encoder';
  /** Word-overlap score in [0, 1] (1 for exact / style id); MiniLM cosine for 'encoder'. */
  score: number;
  tokens: Float32Array;
}

const STOP = new Set(['a', 'an', 'the', 'of', 'in', 'into', 'to', 'me', 'make', 'turn', 'as', 'like', 'with', 'and', 'my', 'it', 'look', 'style', 'please', 'be', 'made', 'on', 'from', 'photo', 'portrait', 'face', 'person', 'this', 'render', 'rendered', 'give', 'him', 'her', 'them']);

export function normalizeText(s: string): string {
  return s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, ' ').trim();
}

function stem(w: string): string {
  // light stemming so "painted"/"painting"/"paints" meet
  return w.replace(/(ings|ing|ed|es|s)$/, '').replace(/our$/, 'or');
}

export function contentWords(s: string): Set<string> {
  return new Set(normalizeText(s).split(' ').filter((w) => w && !STOP.has(w)).map(stem));
}

export class PromptBank {
  readonly k: number;
  readonly d: number;
  readonly normDim: number;
  readonly styles: string[];
  readonly entries: PromptEntry[];
  readonly defaultNorm: Float32Array;
  private readonly data: Float32Array;
  private readonly words: Set<string>[];

  constructor(dir: string) {
    const meta = JSON.parse(readFileSync(path.join(dir, 'prompts.json'), 'utf8')) as {
      k: number; d: number; normDim: number; defaultNormOffset: number; styles: string[]; phrasings: PromptEntry[];
    };
    const buf = readFileSync(path.join(dir, 'prompts.bin'));
    this.data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    this.k = meta.k;
    this.d = meta.d;
    this.normDim = meta.normDim;
    this.styles = meta.styles;
    this.entries = meta.phrasings;
    this.defaultNorm = this.data.slice(meta.defaultNormOffset, meta.defaultNormOffset + meta.normDim);
    this.words = this.entries.map((e) => contentWords(e.text));
  }

  tokensAt(e: PromptEntry): Float32Array {
    return this.data.slice(e.offset, e.offset + this.k * this.d);
  }

  /** Tokens for a style id (its first training phrasing), or null. */
  styleTokens(id: string): PromptMatch | null {
    const key = normalizeText(id).replace(/ /g, '_');
    if (!this.styles.includes(key)) return null;
    const e = this.entries.find((x) => x.style === key && x.split === 'train')!;
    return { style: key, text: e.text, how: 'style-id', score: 1, tokens: this.tokensAt(e) };
  }

  /**
   * Text → tokens: an exact known phrasing, a style id, else the known phrasing with the
   * highest word overlap (Dice over content words, lightly stemmed). Null when no word overlaps.
   */
  match(text: string): PromptMatch | null {
    const norm = normalizeText(text);
    if (!norm) return null;
    const exact = this.entries.find((e) => normalizeText(e.text) === norm);
    if (exact) return { style: exact.style, text: exact.text, how: 'exact', score: 1, tokens: this.tokensAt(exact) };
    const byId = this.styleTokens(norm);
    if (byId) return byId;
    const w = contentWords(text);
    let best = -1, bestScore = 0;
    this.words.forEach((ew, i) => {
      let inter = 0;
      for (const x of w) if (ew.has(x)) inter++;
      const s = (2 * inter) / (w.size + ew.size || 1);
      if (s > bestScore) { bestScore = s; best = i; }
    });
    if (best < 0) return null;
    const e = this.entries[best];
    return { style: e.style, text: e.text, how: 'nearest', score: bestScore, tokens: this.tokensAt(e) };
  }
}
