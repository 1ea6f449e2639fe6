import type { FrameProcessor } from '@portrait-edit/models';

/** Sends frames on untouched: the loop's baseline for latency and the fallback. */
export class PassthroughProcessor implements FrameProcessor {
  readonly name = 'passthrough';
  process(frame: Parameters<FrameProcessor['process']>[0]) {
    return { frame, edited: false, reason: 'pass-through processor (no editor loaded)' };
  }
}
