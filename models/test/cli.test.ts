import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOW, gradientFrame, modelsRoot, portraitFiles, videoDir } from './helpers.js';

const bin = path.join(modelsRoot, 'bin', 'portrait-edit.mjs');
let tmp = '';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: modelsRoot, maxBuffer: 64 << 20, timeout: SLOW }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A PNG whose header claims width×height, without the pixel data: a decompression bomb stand-in. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'portrait-edit-cli-'));
  const g = gradientFrame(320, 240);
  await sharp(Buffer.from(g.data), { raw: { width: g.width, height: g.height, channels: 3 } }).png().toFile(path.join(tmp, 'gradient.png'));
  fs.writeFileSync(path.join(tmp, 'broken.png'), fs.readFileSync(portraitFiles()[0]).subarray(0, 2000));
  fs.writeFileSync(path.join(tmp, 'notes.txt'), 'this is not an image\n'.repeat(50));
  fs.writeFileSync(path.join(tmp, 'huge.png'), pngHeaderOnly(20000, 20000));
  fs.writeFileSync(path.join(tmp, 'wide.png'), pngHeaderOnly(9000, 100));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('portrait-edit CLI', () => {
  it('track <portrait> prints one face with pose and a 25-number camera, and draws --debug', async () => {
    const dbg = path.join(tmp, 'debug.png');
    const r = await cli('track', portraitFiles()[0], '--debug', dbg);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.faces).toHaveLength(1);
    const f = j.faces[0];
    expect(Object.keys(f).sort()).toEqual(['box', 'camera', 'id', 'pose', 'score']);
    expect(f.box).toHaveLength(4);
    expect(f.camera).toHaveLength(25);
    expect(f.camera.slice(16)).toEqual([4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1]);
    expect(Math.hypot(f.camera[3], f.camera[7], f.camera[11])).toBeCloseTo(2.7, 3);
    expect(typeof f.pose.yaw).toBe('number');
    expect(typeof j.ms).toBe('number');
    const meta = await sharp(dbg).metadata();
    expect([meta.width, meta.height]).toEqual([512, 512]);
  }, SLOW);

  it('track --json writes the file', async () => {
    const out = path.join(tmp, 'out.json');
    const r = await cli('track', portraitFiles()[1], '--json', out);
    expect(r.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).faces).toHaveLength(1);
  }, SLOW);

  it('an image with no face gives zero faces and exit 0', async () => {
    const r = await cli('track', path.join(tmp, 'gradient.png'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).faces).toEqual([]);
  }, SLOW);

  it('a video gives per-frame faces, tracked fraction and jitter before/after smoothing', async () => {
    const r = await cli('track', path.join(videoDir, 'talking-d11.mp4'), '--max-frames', '30');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe('video');
    expect(j.frames).toHaveLength(30);
    expect(j.trackedFraction).toBeGreaterThanOrEqual(0.98);
    expect(j.frames[5].faces[0].camera).toHaveLength(25);
    for (const k of ['yaw', 'pitch']) {
      expect(j.jitter[k].raw).toBeGreaterThan(0);
      expect(j.jitter[k].smoothed).toBeLessThan(j.jitter[k].raw);
    }
  }, SLOW);

  it.each([
    ['broken.png', /error: (cannot decode|not a readable)/],
    ['notes.txt', /error: not a readable image or video/],
    ['huge.png', /error: image too large: 20000x20000/],
    ['wide.png', /error: image too large: 9000x100/],
    ['missing.png', /error: no such file/],
  ])('%s → clear error on stderr, exit 2', async (name, msg) => {
    const r = await cli('track', path.join(tmp, name));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // a message, not a stack trace
  }, SLOW);

  it('unknown subcommands and missing arguments print usage', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).toMatch(/usage: portrait-edit <command>/);
    expect(r.stderr).toMatch(/track <image-or-video>/);
    const r2 = await cli('track');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/needs exactly one input/);
    const h = await cli('--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/usage: portrait-edit/);
  }, SLOW);
});
