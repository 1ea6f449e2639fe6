/**
 * Tracker benchmark: ms per stage at 640×480 over a real talking-head clip (letterboxed to
 * 640×480), with tracking (detector every `detectEvery` frames) and the selfie matte every
 * `matteEvery` frames (the matte lives in crop space, so the face's last matte is reused
 * in between). Frames are decoded before timing starts.
 *
 *   npx tsx models/bench/tracker-bench.ts [clip.mp4] [--frames N] [--matte-every K]
 *
 * `runTrackerBench()` returns the numbers for `npm run bench` (wired elsewhere).
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Frame } from '../src/frame.js';
import { FaceTracker } from '../src/tracking/face-tracker.js';
import { SelfieMatte } from '../src/tracking/matte.js';
import { readVideoFrames } from '../src/tracking/media-io.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CLIP = path.resolve(here, '..', '..', '..', 'shared', 'testdata', 'video', 'talking-d3.mp4');

export interface TrackerBenchOptions {
  clip?: string;
  frames?: number;
  warmup?: number;
  detectEvery?: number;
  matteEvery?: number;
}

export async function runTrackerBench(opts: TrackerBenchOptions = {}): Promise<Record<string, number>> {
  const clip = opts.clip ?? DEFAULT_CLIP;
  const nFrames = opts.frames ?? 150;
  const warmup = opts.warmup ?? 10;
  const matteEvery = opts.matteEvery ?? 2;
  const frames: Frame[] = [];
  for await (const f of readVideoFrames(clip, { size: { width: 640, height: 480 }, maxFrames: nFrames + warmup })) frames.push(f);
  if (frames.length < warmup + 10) throw new Error(`clip too short: ${frames.length} frames`);

  const tracker = new FaceTracker({ detectEvery: opts.detectEvery ?? 10 });
  const matte = new SelfieMatte();
  await tracker.init();
  await matte.init();

  const sum = { detect: 0, mesh: 0, pose: 0, matte: 0, total: 0 };
  let detectRuns = 0, matteRuns = 0, tracked = 0, n = 0;
  for (let i = 0; i < frames.length; i++) {
    const t0 = performance.now();
    const r = await tracker.track(frames[i]);
    let matteMs = 0;
    if (r.faces.length && i % matteEvery === 0) {
      const tm = performance.now();
      for (const face of r.faces) await matte.matteForFace(frames[i], face.crop);
      matteMs = performance.now() - tm;
    }
    const total = performance.now() - t0;
    if (i < warmup) continue;
    n++;
    if (r.faces.length) tracked++;
    if (r.detected) detectRuns++;
    if (matteMs > 0) matteRuns++;
    sum.detect += r.timings.detect;
    sum.mesh += r.timings.mesh;
    sum.pose += r.timings.pose;
    sum.matte += matteMs;
    sum.total += total;
  }
  const per = (v: number) => Math.round((v / n) * 100) / 100;
  return {
    frames: n,
    width: 640,
    height: 480,
    trackedFraction: Math.round((tracked / n) * 1000) / 1000,
    /** Mean ms per frame (amortised over frames where the stage did not run). */
    detectMs: per(sum.detect),
    meshMs: per(sum.mesh),
    poseMs: per(sum.pose),
    matteMs: per(sum.matte),
    totalMs: per(sum.total),
    /** Mean ms per run of the stage. */
    detectPerRunMs: detectRuns ? Math.round((sum.detect / detectRuns) * 100) / 100 : 0,
    mattePerRunMs: matteRuns ? Math.round((sum.matte / matteRuns) * 100) / 100 : 0,
    detectEvery: opts.detectEvery ?? 10,
    matteEvery,
    fps: Math.round((1000 / (sum.total / n)) * 10) / 10,
  };
}

function printTable(r: Record<string, number>): void {
  const rows = Object.entries(r);
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`tracker bench (640x480, ${r.frames} frames, detector every ${r.detectEvery}, matte every ${r.matteEvery})`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const opt = (name: string): number | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const clip = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
  runTrackerBench({ clip: clip ? path.resolve(clip) : undefined, frames: opt('frames'), matteEvery: opt('matte-every'), detectEvery: opt('detect-every') })
    .then(printTable)
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
