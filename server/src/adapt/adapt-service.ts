import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Frame } from '@portrait-edit/models';
import type { PresetInfo } from '@portrait-edit/shared';
import { AdaptJobs } from './adapt-jobs.js';
import { StyleStore } from './style-store.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const EDITOR_ASSETS_DIR = path.join(REPO, 'models', 'assets', 'editor');
export const TRAINING_DIR = path.join(REPO, 'models', 'training');
export const DEFAULT_PYTHON = path.join(TRAINING_DIR, '.venv', 'bin', 'python');

export interface AdaptServiceOptions {
  dataDir: string;
  python?: string;
  concurrency?: number;
  threads?: number;
  graceS?: number;
  assetsDir?: string;
  /** The trained styles' preset ids: adapted style ids must not shadow them. */
  reservedIds?: string[];
  faceCheck?: ((img: Frame) => Promise<boolean>) | null;
}

/** Style storage + the adaptation queue, wired to one data directory. */
export class AdaptService {
  readonly styles: StyleStore;
  readonly jobs: AdaptJobs;
  readonly reserved: Set<string>;
  readonly faceCheck: ((img: Frame) => Promise<boolean>) | null;

  constructor(o: AdaptServiceOptions) {
    const assets = o.assetsDir ?? EDITOR_ASSETS_DIR;
    this.styles = new StyleStore(path.join(o.dataDir, 'styles'), path.join(assets, 'styles'), path.join(assets, 'editor.pt'));
    let expect: { k: number; d: number; normDim: number } | null = null;
    try {
      const m = JSON.parse(fs.readFileSync(path.join(assets, 'prompts.json'), 'utf8'));
      expect = { k: m.k, d: m.d, normDim: m.normDim };
    } catch {
      // no editor installed: sizes are checked by the runtime when a style is used
    }
    this.jobs = new AdaptJobs({
      jobsDir: path.join(o.dataDir, 'jobs'),
      styles: this.styles,
      python: o.python ?? DEFAULT_PYTHON,
      trainingDir: TRAINING_DIR,
      concurrency: o.concurrency ?? 1,
      threads: o.threads ?? 1,
      graceS: o.graceS,
      expect,
    });
    this.reserved = new Set(o.reservedIds ?? []);
    this.faceCheck = o.faceCheck ?? null;
  }

  /** The adapted styles as gallery presets. */
  presets(): PresetInfo[] {
    return this.styles.presets();
  }

  /**
   * A new style id for a display name: 'Ocean blue' → 'ocean-blue-k3f9x'. Never an id used
   * before: filter workers cache a preset's tensors by id for as long as they run, so a deleted
   * style's id must not come back with other tensors behind it.
   */
  styleIdFor(label: string): string {
    const base = label.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'style';
    const taken = (id: string) => this.reserved.has(id) || this.styles.has(id) || this.jobs.pendingIds().has(id);
    for (;;) {
      const id = `${base}-${crypto.randomBytes(4).readUInt32BE(0).toString(36).slice(0, 5).padStart(5, '0')}`;
      if (!taken(id)) return id;
    }
  }

  close(): Promise<void> {
    return this.jobs.close();
  }
}

/** The repository's default data directory (gitignored); the editor runtime uses the same default. */
export const DEFAULT_DATA_DIR = path.join(REPO, 'data');

function intEnv(name: string, dflt: number, min: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/**
 * Options from the environment: PE_DATA_DIR (user styles and job inputs; default data/ at the
 * repository root; filter workers inherit it to find the styles), PE_ADAPT_CONCURRENCY (jobs at
 * once, 1), PE_ADAPT_THREADS (torch threads per job, 1: on 2 cores shared with calls a second
 * thread mostly spins), PE_ADAPT_PYTHON (the trainer's Python).
 */
export function adaptOptionsFromEnv(): Pick<AdaptServiceOptions, 'dataDir' | 'concurrency' | 'threads' | 'python'> {
  return {
    dataDir: path.resolve(process.env.PE_DATA_DIR || DEFAULT_DATA_DIR),
    concurrency: intEnv('PE_ADAPT_CONCURRENCY', 1, 1),
    threads: intEnv('PE_ADAPT_THREADS', 1, 1),
    python: process.env.PE_ADAPT_PYTHON || DEFAULT_PYTHON,
  };
}
