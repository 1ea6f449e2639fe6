/**
 * `portrait-edit track <image-or-video> [--json out.json] [--debug out.png|out.mp4]`
 * Tracks faces in a still or a clip and reports boxes, pose and EG3D cameras as JSON.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Frame } from '../frame.js';
import { FaceTracker, type TrackedFace, type TrackResult } from '../tracking/face-tracker.js';
import { drawOverlay } from '../tracking/debug-overlay.js';
import { InputError, probeImage, readImage, probeVideo, readVideoFrames, writePng, FFMPEG } from '../tracking/media-io.js';
import { jitter, mean } from '../tracking/clip-stats.js';
import { parseArgs, intOption, UsageError } from './args.js';
import type { CliCommand } from './commands.js';

const r2 = (v: number): number => Math.round(v * 100) / 100;
const r5 = (v: number): number => Math.round(v * 1e5) / 1e5;

export interface FaceJson {
  id: number;
  box: number[];
  score: number;
  pose: { yaw: number; pitch: number; roll: number };
  camera: number[];
}

export function faceJson(f: TrackedFace): FaceJson {
  return {
    id: f.id,
    box: f.box.map(r2),
    score: r5(f.score),
    pose: { yaw: r2(f.pose.yaw), pitch: r2(f.pose.pitch), roll: r2(f.pose.roll) },
    camera: f.camera.map(r5),
  };
}

function timingsJson(r: TrackResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, r2(v)]));
}

export interface ImageReport {
  input: string;
  kind: 'image';
  width: number;
  height: number;
  faces: FaceJson[];
  ms: number;
  timings: Record<string, number>;
}

export async function trackImageFile(file: string, debugOut?: string, tracker = new FaceTracker({ detectEvery: 1 })): Promise<ImageReport> {
  const frame = await readImage(file);
  const r = await tracker.track(frame);
  if (debugOut) {
    drawOverlay(frame, r.faces);
    await writeDebugImage(frame, debugOut);
  }
  return { input: file, kind: 'image', width: frame.width, height: frame.height, faces: r.faces.map(faceJson), ms: r2(r.timings.total), timings: timingsJson(r) };
}

export interface VideoReport {
  input: string;
  kind: 'video';
  width: number;
  height: number;
  fps: number;
  /** Every k-th frame was tracked. */
  every: number;
  frames: Array<{ index: number; timestampMs: number; faces: FaceJson[]; ms: number }>;
  trackedFraction: number;
  jitterMetric: string;
  jitter: { yaw: { raw: number; smoothed: number }; pitch: { raw: number; smoothed: number } };
  /** Mean ms per frame per stage. */
  ms: Record<string, number>;
}

export async function trackVideoFile(
  file: string, opts: { every?: number; maxFrames?: number; debugOut?: string } = {}, tracker = new FaceTracker(),
): Promise<VideoReport> {
  const info = await probeVideo(file);
  const every = opts.every ?? 1;
  const frames: VideoReport['frames'] = [];
  const sums: Record<string, number> = {};
  // Pose series of the main face (the first id seen), NaN where it is not tracked.
  let mainId: number | null = null;
  const yawRaw: number[] = [], yawS: number[] = [], pitchRaw: number[] = [], pitchS: number[] = [];
  let tracked = 0;
  const debug = opts.debugOut ? await openDebugSink(opts.debugOut, info.width, info.height, info.fps / every) : null;
  try {
    for await (const f of readVideoFrames(file, { every, maxFrames: opts.maxFrames })) {
      const r = await tracker.track(f);
      for (const [k, v] of Object.entries(r.timings)) sums[k] = (sums[k] ?? 0) + v;
      if (r.faces.length) tracked++;
      mainId ??= r.faces[0]?.id ?? null;
      const main = r.faces.find((x) => x.id === mainId);
      yawRaw.push(main ? main.poseRaw.yaw : NaN);
      yawS.push(main ? main.pose.yaw : NaN);
      pitchRaw.push(main ? main.poseRaw.pitch : NaN);
      pitchS.push(main ? main.pose.pitch : NaN);
      frames.push({ index: f.index, timestampMs: r2(f.timestampMs), faces: r.faces.map(faceJson), ms: r2(r.timings.total) });
      if (debug) {
        drawOverlay(f, r.faces);
        await debug.write(f);
      }
    }
  } finally {
    await debug?.close();
  }
  const n = Math.max(1, frames.length);
  return {
    input: file,
    kind: 'video',
    width: info.width,
    height: info.height,
    fps: r2(info.fps),
    every,
    frames,
    trackedFraction: r5(tracked / n),
    jitterMetric: 'RMS deviation of the main face’s angle from the midpoint of its neighbours, degrees',
    jitter: {
      yaw: { raw: r5(jitter(yawRaw)), smoothed: r5(jitter(yawS)) },
      pitch: { raw: r5(jitter(pitchRaw)), smoothed: r5(jitter(pitchS)) },
    },
    ms: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, r2(v / n)])),
  };
}

async function writeDebugImage(frame: Frame, out: string): Promise<void> {
  if (!/\.png$/i.test(out)) throw new UsageError('--debug for an image must end in .png');
  await writePng(frame, out);
}

interface DebugSink {
  write(f: Frame): Promise<void>;
  close(): Promise<void>;
}

/** .png: keep the last frame that had a face; .mp4/.webm/.mkv: encode all frames with ffmpeg. */
async function openDebugSink(out: string, w: number, h: number, fps: number): Promise<DebugSink> {
  if (/\.png$/i.test(out)) {
    let last: Frame | null = null;
    return {
      write: async (f) => {
        last = { ...f, data: f.data.slice() };
      },
      close: async () => {
        if (last) await writePng(last, out);
      },
    };
  }
  if (!/\.(mp4|webm|mkv)$/i.test(out)) throw new UsageError('--debug for a video must end in .png, .mp4, .webm or .mkv');
  const p = spawn(FFMPEG, [
    '-y', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${w}x${h}`, '-r', String(fps), '-i', 'pipe:0',
    '-pix_fmt', 'yuv420p', out,
  ], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (c) => resolve(c ?? -1));
  });
  let writeErr: Error | null = null;
  p.stdin.on('error', (e: Error) => (writeErr = e));
  return {
    write: async (f) => {
      if (writeErr) throw new Error(`ffmpeg stopped accepting frames for ${out}: ${stderr.trim() || writeErr.message}`);
      if (!p.stdin.write(f.data)) {
        // Wait for the encoder to catch up, or for it to exit (then the next write reports it).
        await Promise.race([new Promise((resolve) => p.stdin.once('drain', resolve)), done]);
      }
    },
    close: async () => {
      p.stdin.end();
      const code = await done;
      if (code !== 0) throw new Error(`ffmpeg could not write ${out}: ${stderr.trim()}`);
    },
  };
}

/** Image or video? Images are recognised from their header by sharp; anything else goes to ffprobe. */
async function detectKind(file: string): Promise<'image' | 'video'> {
  const st = await fsp.stat(file).catch(() => null);
  if (!st) throw new InputError(`no such file: ${file}`);
  if (!st.isFile()) throw new InputError(`not a file: ${file}`);
  if (st.size === 0) throw new InputError(`empty file: ${file}`);
  try {
    await probeImage(file);
    return 'image';
  } catch (err) {
    // A readable but oversized image is final; an unreadable one may still be a video.
    if (err instanceof InputError && /too large/.test(err.message)) throw err;
    if (/\.(png|jpe?g|webp|tiff?|bmp|avif|heic)$/i.test(file)) throw err;
  }
  await probeVideo(file);
  return 'video';
}

export const trackCommand: CliCommand = {
  synopsis: 'track <image-or-video> [--json out.json] [--debug out.png|out.mp4] [--every k] [--max-frames n]',
  description: 'Detect and track faces; print (or write) boxes, head pose and EG3D cameras as JSON.',
  async run(argv, io) {
    const { positionals, options } = parseArgs(argv, ['json', 'debug', 'every', 'max-frames', 'max-faces']);
    if (positionals.length !== 1) throw new UsageError('track needs exactly one input file');
    const file = positionals[0];
    const jsonOut = options.json as string | undefined;
    const debugOut = options.debug as string | undefined;
    const maxFaces = intOption(options, 'max-faces', 4);
    const kind = await detectKind(file);
    const report =
      kind === 'image'
        ? await trackImageFile(file, debugOut, new FaceTracker({ detectEvery: 1, maxFaces }))
        : await trackVideoFile(
            file,
            { every: intOption(options, 'every', 1), maxFrames: options['max-frames'] ? intOption(options, 'max-frames', 1) : undefined, debugOut },
            new FaceTracker({ maxFaces }),
          );
    const text = JSON.stringify(report) + '\n';
    if (jsonOut) {
      await fsp.mkdir(path.dirname(path.resolve(jsonOut)), { recursive: true });
      await fsp.writeFile(jsonOut, text);
      const summary =
        report.kind === 'image'
          ? `${report.faces.length} face(s)`
          : `${report.frames.length} frames, tracked ${(report.trackedFraction * 100).toFixed(1)}%`;
      io.stdout(`wrote ${jsonOut}: ${summary}\n`);
    } else {
      io.stdout(text);
    }
    return 0;
  },
};
