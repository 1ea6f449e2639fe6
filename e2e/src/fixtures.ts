import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const E2E_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(E2E_ROOT, '..');
/** The read-only kit beside the repository. */
export const TESTDATA = path.resolve(REPO_ROOT, '..', 'shared', 'testdata');
const FIXTURES = path.join(E2E_ROOT, '.fixtures');

/**
 * A fake-webcam clip for Chromium (--use-file-for-fake-video-capture), made from a real
 * talking-head clip at test time (the raw clips are not ours to commit).
 */
export function webcamY4m(clip = 'talking-d6.mp4', seconds = 8, fps = 15): string {
  fs.mkdirSync(FIXTURES, { recursive: true });
  const out = path.join(FIXTURES, `${path.basename(clip, '.mp4')}-${seconds}s-${fps}fps.y4m`);
  if (!fs.existsSync(out)) {
    const src = path.join(TESTDATA, 'video', clip);
    if (!fs.existsSync(src)) throw new Error(`test clip missing: ${src}`);
    const tmp = `${out}.tmp.y4m`;
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', src, '-t', String(seconds), '-r', String(fps), '-pix_fmt', 'yuv420p', tmp]);
    fs.renameSync(tmp, out);
  }
  return out;
}
