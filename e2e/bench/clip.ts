import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TESTDATA } from '../src/fixtures.js';
import type { I420Clip } from './headless-publisher.js';

/** Decodes a real talking-head clip to I420 frames at the webcam size (letterboxed). */
export function loadClip(name = 'talking-d6.mp4', width = 640, height = 480, fps = 15, seconds = 10): I420Clip {
  const src = path.join(TESTDATA, 'video', name);
  const side = Math.min(width, height);
  const raw = execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-i', src, '-t', String(seconds),
    '-vf', `fps=${fps},scale=${side}:${side},pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2`,
    '-pix_fmt', 'yuv420p', '-f', 'rawvideo', 'pipe:1',
  ], { maxBuffer: 1 << 30 });
  const size = (width * height * 3) / 2;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= raw.length; o += size) frames.push(Uint8Array.prototype.slice.call(raw, o, o + size)); // wrtc wants one buffer per frame
  if (!frames.length) throw new Error(`no frames decoded from ${src}`);
  return { width, height, frames };
}
