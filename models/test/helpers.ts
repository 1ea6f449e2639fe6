import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import type { Frame } from '../src/frame.js';

export const modelsRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(modelsRoot, '..');
/** The read-only kit next to the repo (never copied into it). */
export const testdata = path.resolve(repoRoot, '..', 'shared', 'testdata');
export const facesDir = path.join(testdata, 'faces');
export const videoDir = path.join(testdata, 'video');

export function portraitFiles(): string[] {
  return fs
    .readdirSync(facesDir)
    .filter((f) => f.endsWith('.png'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => path.join(facesDir, f));
}

/** A smooth colour gradient: no face anywhere. */
export function gradientFrame(width = 640, height = 480): Frame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.round((255 * x) / (width - 1));
      data[o + 1] = Math.round((255 * y) / (height - 1));
      data[o + 2] = 128;
    }
  }
  return { width, height, data, timestampMs: 0 };
}

/** Generous timeouts: two busy shared cores, WASM inference. */
export const SLOW = 180_000;
