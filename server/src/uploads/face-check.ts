import type { FaceTracker, Frame } from '@portrait-edit/models';

let tracker: Promise<FaceTracker> | null = null;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Does a reference image show a face? One shared detector, loaded on first use; checks run
 * one at a time (the tracker keeps state between calls, so it is reset for each image).
 */
export function faceCheck(img: Frame): Promise<boolean> {
  const run = async () => {
    tracker ??= import('@portrait-edit/models').then(async ({ FaceTracker }) => {
      const t = new FaceTracker();
      await t.init();
      return t;
    });
    const t = await tracker;
    t.reset();
    const r = await t.track(img);
    t.reset();
    return r.faces.length > 0;
  };
  const p = queue.then(run, run);
  queue = p.catch(() => {});
  return p;
}

/**
 * Loads the detector ahead of the first upload: loading it took ~0.5 s on an idle 2-core machine
 * and several seconds under a call's load, which a user's first reference upload used to wait for.
 */
export async function warmFaceCheck(): Promise<void> {
  const grey: Frame = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128), timestampMs: 0 };
  await faceCheck(grey);
}
