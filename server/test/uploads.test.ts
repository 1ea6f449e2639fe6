import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type RunningServer } from '../src/app.js';
import { pngFile } from './png-file.js';

const TESTDATA = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'testdata');
let server: RunningServer;
let guestToken: string;

beforeAll(async () => {
  server = await startServer({ port: 0, numWorkers: 1, processor: 'passthrough' });
  ({ guestToken } = await (await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{}' })).json());
});
afterAll(() => server?.close());

function upload(body: Buffer | string, type: string, token: string | null = guestToken) {
  return fetch(`${server.url}/api/uploads`, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

/** A real, valid 1-bit PNG of w×h: tiny on disk, huge once decoded (a decompression bomb). */
const pngHeader = (w: number, h: number): Buffer => pngFile(w, h, 1, 0, Buffer.alloc(h * (1 + Math.ceil(w / 8))), 9);

describe('reference image uploads', () => {
  test('a real portrait is accepted, decoded and found to have a face', async () => {
    const res = await upload(fs.readFileSync(path.join(TESTDATA, 'faces', 'ffhq-1.png')), 'image/png');
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toMatchObject({ width: 512, height: 512, hasFace: true });
    expect(body.uploadId).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
  }, 60_000);

  test('an image without a face is accepted and says so', async () => {
    const gradient = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 40, g: 120, b: 200 } } }).jpeg().toBuffer();
    const res = await upload(gradient, 'image/jpeg');
    expect(res.status).toBe(201);
    expect((await res.json()).hasFace).toBe(false);
  }, 60_000);

  test('bad uploads get clear errors', async () => {
    const png = await sharp({ create: { width: 128, height: 128, channels: 3, background: '#888' } }).png().toBuffer();
    const cases: [Buffer | string, string, string | null, number, RegExp][] = [
      [png, 'image/png', null, 401, /missing token/],
      [png, 'image/png', 'forged.token', 401, /token/],
      ['just some text', 'image/png', guestToken, 400, /not a PNG image/],
      [png, 'application/x-sh', guestToken, 415, /unsupported type/],
      [png, 'image/jpeg', guestToken, 400, /not a JPEG image \(it looks like image\/png\)/],
      [pngHeader(20000, 20000), 'image/png', guestToken, 400, /too large|exceeds|limit/i],
      [await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } }).png().toBuffer(), 'image/png', guestToken, 400, /too small/],
      [Buffer.concat([png.subarray(0, 60)]), 'image/png', guestToken, 400, /decode|readable|image/],
      [Buffer.alloc(0), 'image/png', guestToken, 400, /empty/],
      [Buffer.alloc(6 * 1024 * 1024, 1), 'image/png', guestToken, 413, /larger than 5 MB/],
    ];
    for (const [body, type, token, status, msg] of cases) {
      const res = await upload(body, type, token);
      const j = await res.json();
      expect(res.status, `${type} ${String(body).slice(0, 20)}`).toBe(status);
      expect(j.error.message).toMatch(msg);
    }
  }, 60_000);
});

describe('image prompts refer only to this room\'s uploads', () => {
  test('unknown upload ids are refused, known ones accepted', async () => {
    const { io } = await import('socket.io-client');
    // A fresh room: the other tests used up this room's upload allowance.
    const { guestToken: token } = await (await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{}' })).json();
    const s = io(server.url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise<void>((r, j) => (s.on('connect', () => r()), s.on('connect_error', j)));
    const req = (m: unknown) => s.timeout(5000).emitWithAck('request', m);
    const caps = (await req({ type: 'getRouterRtpCapabilities' })).data;
    await req({ type: 'join', displayName: 'u', rtpCapabilities: caps });
    const unknown = await req({ type: 'setFilter', settings: { prompt: { kind: 'image', uploadId: 'AAAAAAAAAAAA' } } });
    expect(unknown.error.code).toBe('NOT_FOUND');
    const png = await sharp({ create: { width: 128, height: 128, channels: 3, background: '#a52' } }).png().toBuffer();
    const { uploadId } = await (await upload(png, 'image/png', token)).json();
    const ok = await req({ type: 'setFilter', settings: { prompt: { kind: 'image', uploadId } } });
    expect(ok.ok).toBe(true);
    expect(ok.data.settings.prompt).toEqual({ kind: 'image', uploadId });
    s.close();
  }, 30_000);
});
