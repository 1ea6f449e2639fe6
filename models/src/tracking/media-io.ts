/**
 * Reading stills and videos into RGB24 Frames for the CLI, tests and benchmarks.
 * Stills: sharp, with the size checked from the header *before* decoding so a decompression
 * bomb is refused cheaply. Videos: ffmpeg/ffprobe spawned with argument arrays (no shell).
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import sharp from 'sharp';
import type { Frame } from '../frame.js';

export const MAX_IMAGE_PIXELS = 40_000_000;
export const MAX_IMAGE_SIDE = 8192;

/** An input the user gave us that we refuse (bad file, too big): the CLI maps it to exit 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

export interface ImageLimits {
  maxPixels?: number;
  maxSide?: number;
}

/** Read the header only; throws InputError for unreadable or oversized images. */
export async function probeImage(input: string | Buffer, limits: ImageLimits = {}): Promise<{ width: number; height: number; format: string }> {
  const maxPixels = limits.maxPixels ?? MAX_IMAGE_PIXELS;
  const maxSide = limits.maxSide ?? MAX_IMAGE_SIDE;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new InputError(`not a readable image (${(err as Error).message})`);
  }
  const { width, height, format } = meta;
  if (!width || !height) throw new InputError('image has no dimensions');
  if (width > maxSide || height > maxSide || width * height > maxPixels) {
    throw new InputError(
      `image too large: ${width}x${height} (${((width * height) / 1e6).toFixed(1)} MP); limits are ${maxSide} px a side and ${maxPixels / 1e6} MP`,
    );
  }
  return { width, height, format: format ?? 'unknown' };
}

/** Decode a still image to RGB24 (alpha dropped, greyscale expanded, EXIF rotation applied). */
export async function readImage(input: string | Buffer, limits: ImageLimits = {}): Promise<Frame> {
  await probeImage(input, limits);
  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_IMAGE_PIXELS })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length), timestampMs: 0 };
  } catch (err) {
    throw new InputError(`cannot decode image (${(err as Error).message})`);
  }
}

export async function writePng(frame: Frame, file: string): Promise<void> {
  await sharp(Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.length), {
    raw: { width: frame.width, height: frame.height, channels: 3 },
  }).png().toFile(file);
}

export const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';
export const FFPROBE = process.env.FFPROBE_PATH || 'ffprobe';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const VIDEO_FORMATS = new Set(['mov', 'mp4', 'matroska', 'webm', 'avi', 'flv', 'mpeg', 'mpegts', 'ogg', 'h264', 'hevc', 'ivf', 'yuv4mpegpipe', 'gif']);

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  frames: number | null;
}

export async function probeVideo(file: string): Promise<VideoInfo> {
  await fsp.access(file).catch(() => {
    throw new InputError(`no such file: ${file}`);
  });
  const r = await run(FFPROBE, [
    '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,r_frame_rate,nb_frames:format=format_name', '-of', 'json', file,
  ]);
  let stream: { width?: number; height?: number; r_frame_rate?: string; nb_frames?: string } | undefined;
  let formatName = '';
  try {
    const j = JSON.parse(r.stdout) as { streams?: (typeof stream)[]; format?: { format_name?: string } };
    stream = j.streams?.[0];
    formatName = j.format?.format_name ?? '';
  } catch {
    stream = undefined;
  }
  if (r.code !== 0 || !stream?.width || !stream.height) {
    throw new InputError(`not a readable image or video (${r.stderr.trim().split('\n').pop() || 'no video stream'})`);
  }
  // ffmpeg renders some non-video files as "video" (e.g. text through its tty demuxer):
  // accept real video containers only.
  if (!formatName.split(',').some((f) => VIDEO_FORMATS.has(f))) {
    throw new InputError(`not a readable image or video (container '${formatName}')`);
  }
  if (stream.width > MAX_IMAGE_SIDE || stream.height > MAX_IMAGE_SIDE || stream.width * stream.height > MAX_IMAGE_PIXELS) {
    throw new InputError(`video frames too large: ${stream.width}x${stream.height}`);
  }
  const [num, den] = (stream.r_frame_rate ?? '25/1').split('/').map(Number);
  const fps = num && den ? num / den : 25;
  const frames = stream.nb_frames ? Number(stream.nb_frames) : null;
  return { width: stream.width, height: stream.height, fps, frames: Number.isFinite(frames) ? frames : null };
}

export interface DecodeOptions {
  /** Keep every k-th frame (1 = all). */
  every?: number;
  /** Stop after this many kept frames. */
  maxFrames?: number;
  /** Scale/pad to this size (letterboxed, aspect kept), e.g. 640×480 for benchmarks. */
  size?: { width: number; height: number };
}

/**
 * Decode a video to RGB24 frames with ffmpeg, yielding them as they arrive. Timestamps come
 * from the frame index and the stream's frame rate.
 */
export async function* readVideoFrames(file: string, opts: DecodeOptions = {}): AsyncGenerator<Frame & { index: number }> {
  const info = await probeVideo(file);
  const every = Math.max(1, Math.floor(opts.every ?? 1));
  const w = opts.size?.width ?? info.width, h = opts.size?.height ?? info.height;
  const args = ['-v', 'error', '-nostdin', '-i', file];
  if (opts.size) {
    args.push('-vf', `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2`);
  }
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const p = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => resolve(code ?? -1));
  });
  const frameBytes = w * h * 3;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0, kept = 0;
  let stopped = false;
  try {
    for await (const chunk of p.stdout as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= frameBytes) {
        const buf = pending.subarray(0, frameBytes);
        pending = pending.subarray(frameBytes);
        const i = index++;
        if (i % every !== 0) continue;
        yield { width: w, height: h, data: new Uint8Array(buf), timestampMs: (i * 1000) / info.fps, index: i };
        if (opts.maxFrames && ++kept >= opts.maxFrames) {
          stopped = true;
          return;
        }
      }
    }
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
  const code = await exited;
  if (!stopped && code !== 0) throw new InputError(`ffmpeg failed to decode ${file}: ${stderr.trim().split('\n').pop()}`);
  if (index === 0) throw new InputError(`no frames decoded from ${file}`);
}
