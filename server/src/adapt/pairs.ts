import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ADAPT_LIMITS, isPairImageName, pairKey } from '@portrait-edit/shared';
import type { Frame } from '@portrait-edit/models';
import { ClientError } from '../errors.js';

/** A validation failure that lists every problem found, so the user can fix them in one go. */
export class PairsError extends ClientError {
  constructor(message: string, readonly details: string[], code: 'BAD_REQUEST' | 'TOO_LARGE' | 'UNSUPPORTED' = 'BAD_REQUEST') {
    super(code, message);
  }
}

export interface NamedFile {
  /** Relative path as sent (multipart file name or zip entry). */
  path: string;
  data: Buffer;
}

export interface PairPlan {
  key: string;
  before: NamedFile;
  after: NamedFile;
}

export function looksLikeImage(p: string): boolean {
  return isPairImageName(p);
}

/** Pairs by name with the trainer's rule (shared pairKey). Returns the pairs and a problem list. */
export function planPairs(files: NamedFile[]): { pairs: PairPlan[]; problems: string[] } {
  const before = new Map<string, NamedFile>();
  const after = new Map<string, NamedFile>();
  const problems: string[] = [];
  for (const f of files) {
    if (!isPairImageName(f.path)) {
      problems.push(`${f.path}: not a PNG, JPEG or WebP file`);
      continue;
    }
    const k = pairKey(f.path);
    if (!k) {
      problems.push(`${f.path}: name it NAME_before / NAME_after, or put it in a before/ or after/ folder`);
      continue;
    }
    const map = k.side === 'before' ? before : after;
    if (map.has(k.key)) problems.push(`${f.path}: a second ${k.side} image for "${k.key}"`);
    else map.set(k.key, f);
  }
  for (const k of before.keys()) if (!after.has(k)) problems.push(`${k}: has a before image but no after image`);
  for (const k of after.keys()) if (!before.has(k)) problems.push(`${k}: has an after image but no before image`);
  const pairs = [...before.keys()].filter((k) => after.has(k)).sort().map((k) => ({ key: k, before: before.get(k)!, after: after.get(k)! }));
  return { pairs, problems };
}

function sniff(buf: Buffer): string | null {
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/** Longest side the trainer gets (it aligns the face to a 256² crop; more pixels only cost time). */
const WORK_SIDE = 1024;

/**
 * Validates every image of every pair (magic bytes, size, dimensions, decodability, matching
 * shape of before and after, a face in the before image) and writes the usable ones, re-encoded as
 * PNG with EXIF rotation applied, as DIR/NNN_before.png / NNN_after.png. Throws PairsError listing
 * every problem when the pairs cannot make a job; pairs without a face are skipped (returned).
 */
export async function validateAndWritePairs(
  plans: PairPlan[],
  dir: string,
  faceCheck: ((img: Frame) => Promise<boolean>) | null,
): Promise<{ written: number; skipped: string[] }> {
  const { minPairs, maxPairs, maxFileBytes, minSide, maxSide } = ADAPT_LIMITS;
  if (plans.length < minPairs) throw new PairsError(`${plans.length} pair${plans.length === 1 ? '' : 's'}: at least ${minPairs} before/after pairs are needed`, []);
  if (plans.length > maxPairs) throw new PairsError(`${plans.length} pairs: at most ${maxPairs}`, []);
  const { probeImage, readImage, InputError } = await import('@portrait-edit/models');
  const { fitWithin } = await import('@portrait-edit/models/src/image-fit.js');
  const problems: string[] = [];
  const ready: { key: string; before: Buffer; after: Buffer; frame: Frame | null }[] = [];

  const prepare = async (f: NamedFile): Promise<{ png: Buffer; w: number; h: number } | null> => {
    if (f.data.length > maxFileBytes) {
      problems.push(`${f.path}: larger than ${maxFileBytes / 1024 / 1024} MB`);
      return null;
    }
    if (!sniff(f.data)) {
      problems.push(`${f.path}: not a PNG, JPEG or WebP image (by content)`);
      return null;
    }
    try {
      const d = await probeImage(f.data, { maxSide, maxPixels: maxSide * maxSide });
      if (Math.min(d.width, d.height) < minSide) {
        problems.push(`${f.path}: too small (${d.width}×${d.height}); at least ${minSide} px a side`);
        return null;
      }
      const png = await fitWithin(f.data, WORK_SIDE, maxSide * maxSide);
      const o = await probeImage(png);
      return { png, w: o.width, h: o.height };
    } catch (err) {
      problems.push(`${f.path}: ${err instanceof InputError ? err.message : 'cannot decode the image'}`);
      return null;
    }
  };

  for (const p of plans) {
    const b = await prepare(p.before);
    const a = await prepare(p.after);
    if (!b || !a) continue;
    if (Math.abs(b.w / b.h - a.w / a.h) > 0.02 * (b.w / b.h)) {
      problems.push(`${p.key}: the after image (${a.w}×${a.h}) is not framed like the before image (${b.w}×${b.h})`);
      continue;
    }
    const frame = faceCheck ? await readImage(await fitWithin(b.png, 512, WORK_SIDE * WORK_SIDE), { maxSide: 512 }).catch(() => null) : null;
    ready.push({ key: p.key, before: b.png, after: a.png, frame });
  }
  if (problems.length) throw new PairsError(`${problems.length} problem${problems.length === 1 ? '' : 's'} with the pairs`, problems.slice(0, 20));

  const skipped: string[] = [];
  const usable: typeof ready = [];
  for (const r of ready) {
    if (faceCheck && r.frame && !(await faceCheck(r.frame).catch(() => false))) skipped.push(`${r.key}: no face found in the before image`);
    else usable.push(r);
  }
  if (usable.length < minPairs) {
    throw new PairsError(`only ${usable.length} pair${usable.length === 1 ? '' : 's'} show a face in the before image; at least ${minPairs} are needed`, skipped);
  }
  await mkdir(dir, { recursive: true });
  let i = 0;
  for (const r of usable) {
    const n = String(i++).padStart(3, '0');
    await writeFile(path.join(dir, `${n}_before.png`), r.before);
    await writeFile(path.join(dir, `${n}_after.png`), r.after);
  }
  return { written: usable.length, skipped };
}
