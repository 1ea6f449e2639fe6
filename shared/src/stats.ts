import { z } from 'zod';

/** Per-filtered-stream statistics the server pushes to the room about once a second. */
export const FilterStatsSchema = z.object({
  peerId: z.string(),
  state: z.enum(['starting', 'running', 'stopped', 'failed']),
  width: z.number(),
  height: z.number(),
  fpsIn: z.number(),
  fpsOut: z.number(),
  dropped: z.number(),
  /** Median milliseconds per stage over the last window. */
  decodeMs: z.number().nullable(),
  processMs: z.number().nullable(),
  encodeMs: z.number().nullable(),
  /** decode + wait + process + encode: what the filter adds to the raw path. */
  addedLatencyMs: z.number().nullable(),
  addedLatencyP95Ms: z.number().nullable(),
  processor: z.string(),
  /** Why frames currently pass through unedited (null when edited). */
  passthroughReason: z.string().nullable(),
  /**
   * New edits per second from a pipelined editor (frames in between are composited with the
   * newest edit at the face's current position); null for processors that edit every frame.
   */
  editsPerSec: z.number().nullable().optional(),
  /** Milliseconds from the last settings change to the first frame made with it. */
  lastSwitchMs: z.number().nullable(),
  /**
   * The last prompt switch that reached the stream (processors that encode prompts off the
   * frame path): ms spent encoding the prompt (0 when cached), ms from its tokens being ready
   * to the first frame made with them leaving the filter, and those two moments as absolute
   * server times (ms since the epoch) so a receiver can measure when the change reached it.
   */
  lastPromptSwitch: z
    .object({ seq: z.number(), encodeMs: z.number(), readyToFrameMs: z.number(), readyAt: z.number(), shownAt: z.number() })
    .nullable()
    .optional(),
});
export type FilterStats = z.infer<typeof FilterStatsSchema>;
