import type { FaceTracker, Frame, FrameProcessor, ProcessContext, ProcessResult, TrackedFace } from '@portrait-edit/models';

/**
 * Runs the stream's processor, then, when the participant asked for it, draws the face
 * tracker's mesh and pose axes on top, so people can see the tracker work whatever the
 * engine. It tracks the frame as it came from the camera (an edited face may not look like a
 * face to the detector) and draws on the processor's output. The tracker (TF.js WASM models)
 * loads on first use, off the frame path: frames go out without the overlay until it is ready.
 */
export class OverlayChain implements FrameProcessor {
  readonly name: string;
  private overlay: { tracker: FaceTracker; draw: (f: Frame, faces: TrackedFace[]) => void } | null = null;
  private loading: Promise<void> | null = null;
  private loadError: string | null = null;

  /** `inner`: public so the filter worker can reach the processor's prompt hooks (worker-protocol.ts). */
  constructor(readonly inner: FrameProcessor) {
    this.name = inner.name;
  }

  async init(): Promise<void> {
    await this.inner.init?.();
  }

  async process(frame: Frame, ctx: ProcessContext): Promise<ProcessResult> {
    if (!ctx.settings.debugOverlay) {
      this.wasOn = false;
      return this.inner.process(frame, ctx);
    }
    if (!this.overlay) {
      this.loading ??= this.load();
      const r = await this.inner.process(frame, ctx);
      return { ...r, reason: r.edited ? undefined : this.loadError ?? 'loading the face tracker' };
    }
    // Stale tracks would mislead when the overlay comes back on.
    if (!this.wasOn) this.overlay.tracker.reset();
    this.wasOn = true;
    const { faces } = await this.overlay.tracker.track(frame);
    const r = await this.inner.process(frame, ctx);
    if (faces.length === 0) return { ...r, reason: r.edited ? undefined : 'no face' };
    this.overlay.draw(r.frame, faces);
    return { frame: r.frame, edited: true };
  }

  private wasOn = false;

  private async load(): Promise<void> {
    try {
      const { FaceTracker, drawOverlay } = await import('@portrait-edit/models');
      const tracker = new FaceTracker();
      await tracker.init();
      this.overlay = { tracker, draw: drawOverlay };
    } catch (err) {
      this.loadError = `face tracker unavailable: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  async close(): Promise<void> {
    await this.inner.close?.();
    this.overlay = null;
  }
}
