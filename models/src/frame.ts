import type { FilterSettings } from '@portrait-edit/shared';

/** One video frame as it travels the filter loop: packed RGB24, row-major, no padding. */
export interface Frame {
  width: number;
  height: number;
  /** width * height * 3 bytes. Processors may edit it in place. */
  data: Uint8Array;
  /** Capture-side time of the frame in ms (monotonic, from the decoder). */
  timestampMs: number;
}

export interface ProcessContext {
  /** The participant who owns the stream (and its settings). */
  peerId: string;
  /** Settings in force for this frame; they change between frames, never during one. */
  settings: FilterSettings;
  /** The decoded reference image when settings.prompt is an image prompt (fits 512², RGB24). */
  reference?: Frame;
}

export interface ProcessResult {
  /** The frame to encode: the input edited in place, or a new frame of the same size. */
  frame: Frame;
  /** False when the frame passes through unedited; `reason` then says why. */
  edited: boolean;
  reason?: string;
}

/**
 * The interface every editing stage implements (pass-through, test effect, tracker overlay,
 * the 3DPE editor). The frame loop calls `process` for at most one frame at a time per
 * stream and drops frames that arrive while it is busy, so a slow processor lowers fps
 * instead of adding latency. A processor that throws makes the loop pass the frame through.
 */
export interface FrameProcessor {
  readonly name: string;
  /** Load and warm models before the first frame. */
  init?(): Promise<void>;
  process(frame: Frame, ctx: ProcessContext): Promise<ProcessResult> | ProcessResult;
  close?(): Promise<void> | void;
}
