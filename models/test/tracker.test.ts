import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FaceTracker } from '../src/tracking/face-tracker.js';
import { readImage, readVideoFrames } from '../src/tracking/media-io.js';
import { alignFace, cropFromMesh, pasteBack } from '../src/tracking/alignment.js';
import { compositeFace } from '../src/tracking/composite.js';
import { SelfieMatte, MATTE_SIZE } from '../src/tracking/matte.js';
import { TrackerOverlayProcessor } from '../src/tracking/debug-overlay.js';
import type { Frame } from '../src/frame.js';
import { DEFAULT_FILTER_SETTINGS } from '@portrait-edit/shared';
import { SLOW, gradientFrame, portraitFiles, videoDir } from './helpers.js';

/**
 * ffhq-7 is visibly turned to her right (nose toward image left); every pose estimate from the
 * mesh (eye, brow, cheek or nose pairs alike) puts it at 16–18°. Rather than loosen the bound
 * for all, this portrait checks the sign and range of its turn instead of |yaw| < 15.
 */
const TURNED: Record<string, [number, number]> = { 'ffhq-7.png': [-25, -12] };

/** Mean absolute difference of two RGB frames over the box [x, y, w, h]. */
function meanDiffInBox(a: Frame, b: Frame, box: readonly number[]): number {
  const [x0, y0] = [Math.ceil(box[0]), Math.ceil(box[1])];
  const [x1, y1] = [Math.floor(box[0] + box[2]), Math.floor(box[1] + box[3])];
  let s = 0, n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) s += Math.abs(a.data[o + c] - b.data[o + c]);
      n += 3;
    }
  }
  return s / n;
}

const cloneFrame = (f: Frame): Frame => ({ ...f, data: f.data.slice() });

describe('FaceTracker on real portraits and clips', () => {
  const still = new FaceTracker({ detectEvery: 1 });
  beforeAll(async () => {
    await still.init();
  }, SLOW);

  it.each(portraitFiles().map((f) => [path.basename(f), f]))('%s: exactly one face, near-frontal pose', async (name, file) => {
    still.reset();
    const r = await still.track(await readImage(file));
    expect(r.faces).toHaveLength(1);
    const f = r.faces[0];
    expect(f.score).toBeGreaterThan(0.9);
    expect(f.mesh).toHaveLength(468 * 3);
    expect(f.camera).toHaveLength(25);
    // The face box covers the middle of an FFHQ crop.
    expect(f.box[2]).toBeGreaterThan(150);
    expect(f.box[0] + f.box[2] / 2).toBeGreaterThan(180);
    expect(f.box[0] + f.box[2] / 2).toBeLessThan(330);
    expect(Math.abs(f.pose.pitch)).toBeLessThan(15);
    const turned = TURNED[name];
    if (turned) {
      expect(f.pose.yaw).toBeGreaterThan(turned[0]);
      expect(f.pose.yaw).toBeLessThan(turned[1]);
    } else {
      expect(Math.abs(f.pose.yaw)).toBeLessThan(15);
    }
    expect(Math.abs(f.pose.roll)).toBeLessThan(10);
  }, SLOW);

  it('crop → paste-back round trip changes the face by < 2/255 on average', async () => {
    for (const file of portraitFiles().slice(0, 4)) {
      still.reset();
      const frame = await readImage(file);
      const face = (await still.track(frame)).faces[0];
      const crop = cropFromMesh(face.mesh);
      // Hard paste (the exact inverse of the alignment warp)…
      const aligned = alignFace(frame, crop, 512);
      const pasted = cloneFrame(frame);
      pasteBack(pasted, aligned, crop);
      expect(meanDiffInBox(pasted, frame, face.box)).toBeLessThan(2);
      // …and the feathered, matted, colour-matched composite of an unedited crop.
      const composited = cloneFrame(frame);
      const touched = compositeFace(composited, aligned, crop, { feather: 0.08, colorMatch: 1 });
      expect(touched).toBeGreaterThan(100_000);
      expect(meanDiffInBox(composited, frame, face.box)).toBeLessThan(2);
      // Sanity: a crop from the wrong place pasted back is far from the input, so the
      // measure above can fail.
      const wrong = cloneFrame(frame);
      pasteBack(wrong, alignFace(frame, { ...crop, cx: crop.cx + 40 }, 512), crop);
      expect(meanDiffInBox(wrong, frame, face.box)).toBeGreaterThan(6);
    }
  }, SLOW);

  it('composite blends an edit in: inside the face it shows the edit, outside the crop it leaves the frame alone', async () => {
    still.reset();
    const frame = await readImage(portraitFiles()[1]);
    const face = (await still.track(frame)).faces[0];
    const crop = cropFromMesh(face.mesh, 0.6); // a tight crop, so the frame has pixels outside it
    const edited = alignFace(frame, crop, 256);
    for (let i = 0; i < edited.data.length; i += 3) edited.data[i + 2] = 255; // "edit": blue to max
    const out = cloneFrame(frame);
    compositeFace(out, edited, crop, { colorMatch: 0 });
    const nose = [Math.round(face.mesh[3]), Math.round(face.mesh[4])];
    expect(out.data[(nose[1] * out.width + nose[0]) * 3 + 2]).toBeGreaterThan(245);
    expect(out.data[0 + 2]).toBe(frame.data[0 + 2]); // top-left corner untouched
  }, SLOW);

  it('selfie matte covers the face and not everything', async () => {
    still.reset();
    const frame = await readImage(portraitFiles()[2]);
    const face = (await still.track(frame)).faces[0];
    const m = await new SelfieMatte().matteForFace(frame, face.crop);
    expect(m).toHaveLength(MATTE_SIZE * MATTE_SIZE);
    let centre = 0, n = 0, min = 1;
    for (let y = 0; y < MATTE_SIZE; y++) {
      for (let x = 0; x < MATTE_SIZE; x++) {
        const v = m[y * MATTE_SIZE + x];
        min = Math.min(min, v);
        if (Math.abs(x - 128) < 40 && Math.abs(y - 128) < 40) {
          centre += v;
          n++;
        }
      }
    }
    expect(centre / n).toBeGreaterThan(0.8);
    expect(min).toBeLessThan(0.2);
  }, SLOW);

  it('tracks several faces with distinct, stable ids, up to the configured cap', async () => {
    // Two portraits side by side (scaled to 320²) in a 640×480 frame.
    const [a, b] = await Promise.all([readImage(portraitFiles()[0]), readImage(portraitFiles()[4])]);
    const frame: Frame = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3), timestampMs: 0 };
    for (const [img, ox] of [[a, 0], [b, 320]] as const) {
      for (let y = 0; y < 320; y++) {
        for (let x = 0; x < 320; x++) {
          const s = (Math.floor((y * 512) / 320) * 512 + Math.floor((x * 512) / 320)) * 3;
          const d = ((y + 80) * 640 + x + ox) * 3;
          frame.data.set(img.data.subarray(s, s + 3), d);
        }
      }
    }
    const t = new FaceTracker({ maxFaces: 4 });
    const seen: number[][] = [];
    for (let i = 0; i < 12; i++) {
      const r = await t.track({ ...frame, timestampMs: i * 40 });
      expect(r.faces).toHaveLength(2);
      seen.push(r.faces.map((f) => f.id).sort());
      const centres = r.faces.map((f) => f.box[0] + f.box[2] / 2).sort((p, q) => p - q);
      expect(centres[0]).toBeLessThan(320);
      expect(centres[1]).toBeGreaterThan(320);
    }
    expect(new Set(seen.map((s) => s.join(','))).size).toBe(1); // same two ids throughout
    expect(seen[0][0]).not.toBe(seen[0][1]);
    const capped = await new FaceTracker({ maxFaces: 1 }).track(frame);
    expect(capped.faces).toHaveLength(1);
  }, SLOW);

  it('a frame without a face gives zero faces', async () => {
    const t = new FaceTracker();
    for (let i = 0; i < 3; i++) {
      const r = await t.track({ ...gradientFrame(), timestampMs: i * 33 });
      expect(r.faces).toHaveLength(0);
      expect(r.detected).toBe(true); // keeps looking while nothing is tracked
    }
  }, SLOW);

  it.each([
    ['talking-d6.mp4', 3, 110],
    ['talking-d12.mp4', 2, 90],
  ])('%s is tracked in ≥ 98%% of frames with one stable id', async (clip, every, maxFrames) => {
    const t = new FaceTracker();
    let n = 0, tracked = 0;
    const ids = new Set<number>();
    let detections = 0;
    for await (const f of readVideoFrames(path.join(videoDir, clip), { every, maxFrames })) {
      const r = await t.track(f);
      n++;
      if (r.detected) detections++;
      if (r.faces.length >= 1) tracked++;
      expect(r.faces.length).toBeLessThanOrEqual(1);
      for (const face of r.faces) ids.add(face.id);
    }
    expect(n).toBe(maxFrames);
    expect(tracked / n).toBeGreaterThanOrEqual(0.98);
    expect(ids.size).toBe(1);
    // Tracking, not detection, carries most frames.
    expect(detections).toBeLessThan(n / 5);
  }, SLOW);
});

describe('TrackerOverlayProcessor', () => {
  const proc = new TrackerOverlayProcessor();
  beforeAll(() => proc.init(), SLOW);
  const ctx = (debugOverlay: boolean) => ({ peerId: 'p1', settings: { ...DEFAULT_FILTER_SETTINGS, debugOverlay } });

  it('passes frames through untouched when the overlay is off', async () => {
    const frame = await readImage(portraitFiles()[0]);
    const before = frame.data.slice();
    const r = await proc.process(frame, ctx(false));
    expect(proc.name).toBe('tracker-overlay');
    expect(r).toMatchObject({ edited: false, reason: 'overlay off' });
    expect(Buffer.compare(Buffer.from(r.frame.data), Buffer.from(before))).toBe(0);
  }, SLOW);

  it('draws the mesh and axes when on', async () => {
    const frame = await readImage(portraitFiles()[0]);
    const before = frame.data.slice();
    const r = await proc.process(frame, ctx(true));
    expect(r.edited).toBe(true);
    let changed = 0;
    for (let i = 0; i < before.length; i++) if (r.frame.data[i] !== before[i]) changed++;
    expect(changed).toBeGreaterThan(1000);
  }, SLOW);

  it('says "no face" when there is none', async () => {
    const r = await proc.process(gradientFrame(), ctx(true));
    expect(r).toMatchObject({ edited: false, reason: 'no face' });
  }, SLOW);
});
