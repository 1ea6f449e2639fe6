import { pipelineEvents, type PipelineLifecycleEvent } from '@portrait-edit/server';

/**
 * Records the server's filter-pipeline milestones (worker acquired, ffmpeg listening, first
 * keyframe in, first frame decoded, ready, failed…) while a fault test runs, so a slow
 * recovery says which step was slow.
 */
export function recordMilestones(): { timeline: (peerId: string, t0: number) => string; stop: () => void } {
  const seen: PipelineLifecycleEvent[] = [];
  const on = (e: PipelineLifecycleEvent) => {
    if (seen.length < 10_000) seen.push(e);
  };
  pipelineEvents.on('lifecycle', on);
  return {
    /** The milestones of `peerId`'s pipelines since `t0` (Date.now()), as "+ms" after it. */
    timeline: (peerId, t0) => seen.filter((e) => e.peerId === peerId && e.at >= t0).map((e) => `${e.what} +${e.at - t0}`).join(', '),
    stop: () => pipelineEvents.off('lifecycle', on),
  };
}
