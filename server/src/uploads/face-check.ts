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
