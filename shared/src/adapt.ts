import { z } from 'zod';

/**
 * Style adaptation (paper Sec. 4.3): a user teaches the editor a new style from before/after
 * pairs; the server trains the prompt tokens + norm affine in a separate process and the style
 * joins every room's preset gallery. Limits are shared so the panel can refuse early; the
 * server checks everything again.
 */
export const ADAPT_LIMITS = {
  minPairs: 2,
  maxPairs: 50,
  /** Per image file (same cap as reference uploads). */
  maxFileBytes: 5 * 1024 * 1024,
  /** A zip, or the whole multipart request. */
  maxRequestBytes: 120 * 1024 * 1024,
  minSide: 64,
  maxSide: 4096,
  minMinutes: 0.5,
  maxMinutes: 10,
  defaultMinutes: 5,
  /** Jobs waiting behind the running one(s). */
  maxQueued: 8,
  types: ['image/png', 'image/jpeg', 'image/webp'] as const,
} as const;

/** A style's display name as typed by the user. */
export const StyleLabelSchema = z
  .string()
  .trim()
  .min(1, 'give the style a name')
  .max(40, 'the name is longer than 40 characters')
  .regex(/^[\p{L}\p{N} '._-]+$/u, 'use letters, digits, spaces and - _ . \' in the name');

/** Style ids are preset ids (the settings' PromptSchema). */
export const StyleIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/);

/** The non-file fields of POST /api/adapt/jobs (multipart). */
export const AdaptJobRequestSchema = z.object({
  name: StyleLabelSchema,
  minutes: z.coerce.number().finite().min(ADAPT_LIMITS.minMinutes).max(ADAPT_LIMITS.maxMinutes).default(ADAPT_LIMITS.defaultMinutes),
});
export type AdaptJobRequest = z.infer<typeof AdaptJobRequestSchema>;

export const AdaptJobStateSchema = z.enum(['queued', 'running', 'done', 'failed', 'cancelled']);
export type AdaptJobState = z.infer<typeof AdaptJobStateSchema>;

export const AdaptJobSchema = z.object({
  id: z.string(),
  styleId: StyleIdSchema,
  label: z.string(),
  state: AdaptJobStateSchema,
  pairs: z.number().int(),
  minutes: z.number(),
  createdAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  /** Jobs ahead of this one (queued only). */
  queuePosition: z.number().int().nullable(),
  /** loading | faces | training | saving */
  phase: z.string().nullable(),
  step: z.number().int(),
  loss: z.number().nullable(),
  /** Optimisation seconds done and budgeted. */
  elapsedS: z.number(),
  budgetS: z.number(),
  /** Seconds until done (best estimate), null before training starts. */
  etaS: z.number().nullable(),
  /** 0..1 for the progress bar (face analysis counts as the first 5 %). */
  fraction: z.number(),
  /** Pairs the trainer could not use, and why. */
  skipped: z.array(z.string()),
  error: z.string().nullable(),
});
export type AdaptJob = z.infer<typeof AdaptJobSchema>;

export const StyleInfoSchema = z.object({
  id: StyleIdSchema,
  label: z.string(),
  /** 'user': made on this server, deletable; 'builtin': shipped with the editor. */
  source: z.enum(['user', 'builtin']),
  pairs: z.number().int(),
  steps: z.number().int(),
  createdAt: z.number().nullable(),
  /** Made for other editor weights than the ones installed (a retrain): may look wrong. */
  stale: z.boolean(),
});
export type StyleInfo = z.infer<typeof StyleInfoSchema>;

/** What a preset gallery shows: trained styles and adapted ones. */
export const PresetSchema = z.object({
  id: StyleIdSchema,
  label: z.string(),
  example: z.string(),
  kind: z.enum(['trained', 'adapted']).optional(),
  stale: z.boolean().optional(),
  deletable: z.boolean().optional(),
});
export type PresetInfo = z.infer<typeof PresetSchema>;

/** An adapted style's metadata file (NAME.json, written by pe_editor.adapt): what the server relies on. */
export const StyleMetaSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
    label: z.string().max(80).optional(),
    k: z.number().int().positive(),
    d: z.number().int().positive(),
    normDim: z.number().int().positive(),
    tokensOffset: z.number().int().nonnegative(),
    normOffset: z.number().int().nonnegative(),
    pairs: z.number().int().nonnegative(),
    steps: z.number().int().nonnegative(),
    createdAt: z.number().optional(),
    /** sha256 prefixes of the editor.onnx / editor.pt the style was trained for. */
    editor: z.object({ onnx: z.string().nullable(), weights: z.string().nullable() }).partial().optional(),
  })
  .passthrough();
export type StyleMeta = z.infer<typeof StyleMetaSchema>;

/** One line of `python -m pe_editor.adapt --progress` (stdout). */
export const AdaptEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('phase'), phase: z.string(), budget: z.number().optional() }),
  z.object({ event: z.literal('faces'), done: z.number(), total: z.number() }),
  z.object({ event: z.literal('pairs'), usable: z.number(), skipped: z.array(z.string()) }),
  z.object({ event: z.literal('progress'), step: z.number(), elapsed: z.number(), budget: z.number(), loss: z.number() }),
  z.object({ event: z.literal('done'), meta: z.record(z.unknown()) }),
  z.object({ event: z.literal('error'), message: z.string(), code: z.number().optional() }),
]);
export type AdaptEvent = z.infer<typeof AdaptEventSchema>;

const IMAGE_EXT = /\.(png|jpe?g|webp)$/i;

/**
 * How a file joins a pair, by its (relative) path: NAME_before.EXT / NAME_after.EXT (also
 * -before / -after) or before/NAME.EXT + after/NAME.EXT, EXT one of png, jpg, jpeg, webp.
 * The same rule as the trainer's (pe_editor.adapt.list_pairs). Null: not a pair image.
 */
export function pairKey(filePath: string): { key: string; side: 'before' | 'after' } | null {
  const parts = filePath.replace(/\\/g, '/').replace(/^\/+/, '').split('/');
  const file = parts.pop() ?? '';
  if (!IMAGE_EXT.test(file)) return null;
  const stem = file.replace(IMAGE_EXT, '');
  const m = /^(.*?)[_-](before|after)$/i.exec(stem);
  if (m && m[1]) return { key: [...parts, m[1]].join('/'), side: m[2].toLowerCase() as 'before' | 'after' };
  const dir = parts.pop();
  if (dir && /^(before|after)$/i.test(dir)) return { key: [...parts, stem].join('/'), side: dir.toLowerCase() as 'before' | 'after' };
  return null;
}

export function isPairImageName(filePath: string): boolean {
  return IMAGE_EXT.test(filePath);
}
