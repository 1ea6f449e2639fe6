import { z } from 'zod';

/** Limits shared by the panel (slider ranges) and the server (validation). */
export const VIEW_LIMITS = { yaw: 35, pitch: 25 } as const;
export const MAX_PROMPT_CHARS = 200;

export const PromptSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('text'),
    text: z.string().trim().min(1, 'prompt text is empty').max(MAX_PROMPT_CHARS),
  }),
  z.object({ kind: z.literal('preset'), id: z.string().regex(/^[a-z0-9-]{1,64}$/) }),
  z.object({ kind: z.literal('image'), uploadId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/) }),
]);
export type Prompt = z.infer<typeof PromptSchema>;

export const ViewSchema = z.object({
  yaw: z.number().finite().min(-VIEW_LIMITS.yaw).max(VIEW_LIMITS.yaw),
  pitch: z.number().finite().min(-VIEW_LIMITS.pitch).max(VIEW_LIMITS.pitch),
  /** Render the head facing the camera whatever its pose (eye-contact telepresence). */
  frontalize: z.boolean(),
});
export type View = z.infer<typeof ViewSchema>;

/** A participant's filter settings; owned by that participant, applied on the next frame. */
export const FilterSettingsSchema = z.object({
  enabled: z.boolean(),
  prompt: PromptSchema.nullable(),
  strength: z.number().finite().min(0).max(1),
  view: ViewSchema,
  /** Draw the tracker's mesh and pose axes over the output. */
  debugOverlay: z.boolean(),
  /**
   * 'key': the server paints everything outside the person (selfie matte) in BACKGROUND_KEY and
   * receivers key it out: a neutral backdrop in call tiles, real transparency on the view-only
   * page (`&transparent=1`, for OBS). VP8 carries no alpha, hence a key colour.
   */
  background: z.enum(['keep', 'key']),
});
export type FilterSettings = z.infer<typeof FilterSettingsSchema>;

/** Partial updates from the panel: only the fields that changed. */
export const FilterSettingsPatchSchema = z
  .object({
    enabled: z.boolean(),
    prompt: PromptSchema.nullable(),
    strength: z.number().finite().min(0).max(1),
    view: ViewSchema.partial(),
    debugOverlay: z.boolean(),
    background: z.enum(['keep', 'key']),
  })
  .partial()
  .strict();
export type FilterSettingsPatch = z.infer<typeof FilterSettingsPatchSchema>;

export const DEFAULT_FILTER_SETTINGS: FilterSettings = {
  enabled: false,
  prompt: null,
  strength: 1,
  view: { yaw: 0, pitch: 0, frontalize: false },
  debugOverlay: false,
  background: 'keep',
};

/** Key colour (RGB) painted outside the person when `background` is 'key'. */
export const BACKGROUND_KEY = [0, 255, 0] as const;

export function applySettingsPatch(s: FilterSettings, p: FilterSettingsPatch): FilterSettings {
  return {
    enabled: p.enabled ?? s.enabled,
    prompt: p.prompt === undefined ? s.prompt : p.prompt,
    strength: p.strength ?? s.strength,
    view: { ...s.view, ...p.view },
    debugOverlay: p.debugOverlay ?? s.debugOverlay,
    background: p.background ?? s.background,
  };
}
