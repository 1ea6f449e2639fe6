import type { FilterSettings } from '@portrait-edit/shared';
import type { Frame } from '@portrait-edit/models';
import type { EncodeArgs } from './ffmpeg-args.js';
import type { FrameLoopStats } from './frame-loop.js';

/**
 * Messages between the SFU and a filter worker process (server/src/filter/filter-worker.ts),
 * over the IPC channel of child_process.fork with `serialization: 'advanced'` (structured
 * clone: typed arrays travel as such). Only server-chosen numbers and names go to the worker;
 * it builds the ffmpeg command lines itself and runs them without a shell.
 *
 * Times are absolute milliseconds, `performance.timeOrigin + performance.now()`, so that a
 * time taken in the worker compares with one taken in the SFU.
 *
 * Lifecycle: fork → `init` → `initialised` (processor created and warmed: the worker can wait
 * as a warm spare) → `start` → `pids`, `firstFrame`, `tick` every TICK_MS (the heartbeat) →
 * `stop` → the worker stops its ffmpeg children, closes the processor and exits. `failed`
 * reports a fatal error (an ffmpeg child exited); the SFU answers with `stop`. If the IPC
 * channel closes (the SFU went away) the worker cleans up and exits on its own.
 */

/** How often a running worker reports stats and frame times (its heartbeat). */
export const TICK_MS = 250;
/** Frame times kept between ticks; at 60 fps a tick holds 15. */
export const FRAME_RING = 64;

export interface WorkerSettings {
  peerId: string;
  settings: FilterSettings;
  /** The image prompt's decoded reference; null: none; absent: unchanged since the last message. */
  reference?: Frame | null;
}

export type ToWorker =
  | { type: 'init'; processor: string }
  | {
      type: 'start';
      width: number;
      height: number;
      ffmpegPath: string;
      /** UDP port (RTP; RTCP is +1) the decoder listens on, and the consumer's payload type. */
      decoder: { port: number; payloadType: number };
      encoder: EncodeArgs;
      ctx: WorkerSettings;
    }
  /** New settings, applied from the next frame; `at` is when the change was asked for. */
  | { type: 'settings'; ctx: WorkerSettings; at: number }
  /** Preview each preset on the stream's last face (answered by a `thumbnails` message, same id). */
  | { type: 'thumbnails'; id: number; presets: string[] }
  | { type: 'stop' };

/** The last prompt switch as the worker reports it: absolute times (see nowAbs). */
export interface PromptSwitchTimes {
  seq: number;
  requestedAt: number;
  /** Its tokens were ready (encoded, or found in the cache). */
  readyAt: number;
  /** The first frame made with them went to the encoder. */
  shownAt: number;
}

/**
 * What a processor that encodes prompts off the frame path offers the worker (the editor
 * does; see models/src/editor/processor.ts). Wrappers (OverlayChain) expose the processor
 * they wrap as `inner`.
 */
export interface PromptAwareProcessor {
  /** Settings changed: start encoding the new prompt now. */
  prepare?(ctx: import('@portrait-edit/models').ProcessContext): void;
  promptSwitch?(): { seq: number; requestedAt: number; readyAt: number | null; shownAt: number | null } | null;
  /** Presets applied to the stream's last face, as small JPEG data URLs; null before a face was seen. */
  presetThumbnails?(ids: string[]): Promise<Record<string, string> | null>;
  /** Edits made so far, when the editor runs beside the frame path (see EditorProcessorOptions.pipeline). */
  readonly editCount?: number;
  inner?: unknown;
}

export interface WorkerTick {
  type: 'tick';
  /** When the worker sent it. */
  at: number;
  loop: FrameLoopStats | null;
  lastSwitchMs: number | null;
  /** The processor's edit counter (pipelined editor), null when it has none. */
  edits: number | null;
  /** The last prompt switch that has reached the screen, if the processor reports them. */
  promptSwitch?: PromptSwitchTimes | null;
  /** Times frames left the decoder since the last tick, oldest first. */
  decoded: Float64Array;
  /** [tIn, tOut] pairs: frames handed to the encoder since the last tick (tIn: left the decoder). */
  encoded: Float64Array;
}

export type FromWorker =
  | { type: 'initialised'; processor: string }
  | { type: 'initFailed'; reason: string }
  | { type: 'pids'; decoder: number | null; encoder: number | null }
  /** The decoder's RTP port is bound: a keyframe requested now will be decoded. */
  | { type: 'decoderListening' }
  | { type: 'firstFrame'; at: number }
  | WorkerTick
  | { type: 'thumbnails'; id: number; images: Record<string, string> | null; reason?: string }
  | { type: 'failed'; reason: string };

/** Absolute time in ms, comparable across processes. */
export function nowAbs(): number {
  return performance.timeOrigin + performance.now();
}
