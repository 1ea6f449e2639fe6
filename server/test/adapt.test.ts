/**
 * Style adaptation (issue 7): pairing, zip reading, the style store, the HTTP API's validation,
 * and real training jobs (the Python trainer, when models/training/.venv and the editor weights
 * are installed): done → in every gallery → deletable; cancelled or crashed → nothing installed,
 * existing styles untouched, no process left.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AdaptService, DEFAULT_PYTHON, EDITOR_ASSETS_DIR } from '../src/adapt/adapt-service.js';
import { planPairs, validateAndWritePairs } from '../src/adapt/pairs.js';
import { fileHash, StyleStore } from '../src/adapt/style-store.js';
import { readZip } from '../src/adapt/zip.js';
import { startServer, type RunningServer } from '../src/app.js';

const TESTDATA = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'testdata');
const CAN_TRAIN = fs.existsSync(DEFAULT_PYTHON) && fs.existsSync(path.join(EDITOR_ASSETS_DIR, 'editor.pt'));
const face = (i: number) => fs.readFileSync(path.join(TESTDATA, 'faces', `ffhq-${i}.png`));
/** A real 'after': the portrait recoloured (a style none of the trained ones is). */
const styled = (buf: Buffer) => sharp(buf).tint({ r: 40, g: 140, b: 190 }).modulate({ saturation: 1.6 }).png().toBuffer();

/** A zip as `zip` makes them: local headers, data (stored or deflate), central directory. */
function makeZip(files: { name: string; data: Buffer; deflate?: boolean; lieSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let off = 0;
  for (const f of files) {
    const body = f.deflate ? zlib.deflateRawSync(f.data) : f.data;
    const name = Buffer.from(f.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(f.deflate ? 8 : 0, 8);
    h.writeUInt32LE(zlib.crc32(f.data), 14);
    h.writeUInt32LE(body.length, 18);
    h.writeUInt32LE(f.lieSize ?? f.data.length, 22);
    h.writeUInt16LE(name.length, 26);
    locals.push(h, name, body);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(f.deflate ? 8 : 0, 10);
    c.writeUInt32LE(zlib.crc32(f.data), 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(f.lieSize ?? f.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(off, 42);
    central.push(c, name);
    off += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(files.length, 8);
  e.writeUInt16LE(files.length, 10);
  e.writeUInt32LE(cd.length, 12);
  e.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, e]);
}

const tmpDirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pe-adapt-test-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('pairing and zips', () => {
  test('pairs by NAME_before/NAME_after or before/ and after/ folders, and says what is wrong', () => {
    const f = (p: string) => ({ path: p, data: Buffer.alloc(1) });
    const { pairs, problems } = planPairs([
      f('a_before.png'), f('a_after.png'), f('B-before.jpg'), f('B-after.JPEG'),
      f('set/before/c.webp'), f('set/after/c.webp'), f('lonely_before.png'), f('after/orphan.png'), f('readme.txt'), f('x.png'),
    ]);
    expect(pairs.map((p) => p.key)).toEqual(['B', 'a', 'set/c']);
    expect(problems.join('\n')).toMatch(/lonely: has a before image but no after image/);
    expect(problems.join('\n')).toMatch(/orphan: has an after image but no before image/);
    expect(problems.join('\n')).toMatch(/readme.txt: not a PNG/);
    expect(problems.join('\n')).toMatch(/x.png: name it/);
  });

  test('reads stored and deflated entries; refuses oversized entries and lying headers', () => {
    const a = Buffer.from('a'.repeat(1000));
    const lim = { maxEntries: 10, maxEntryBytes: 2000, maxTotalBytes: 10_000, want: (p: string) => p.endsWith('.png') };
    const z = readZip(makeZip([{ name: 'x/a_before.png', data: a }, { name: 'x/a_after.png', data: a, deflate: true }, { name: 'notes.txt', data: a }, { name: '__MACOSX/._a.png', data: a }]), lim);
    expect(z.entries.map((e) => e.path)).toEqual(['x/a_before.png', 'x/a_after.png']);
    expect(z.entries[1].data.equals(a)).toBe(true);
    expect(z.skipped).toEqual(['notes.txt']);
    expect(readZip(makeZip([{ name: 'big.png', data: Buffer.alloc(5000) }]), lim).tooLarge).toEqual(['big.png']);
    // a bomb: the header claims 100 bytes, the data inflates to 1 MB
    expect(() => readZip(makeZip([{ name: 'bomb.png', data: Buffer.alloc(1 << 20), deflate: true, lieSize: 100 }]), lim)).toThrow(/inflate|size/);
    expect(() => readZip(Buffer.from('not a zip at all, just text that is long enough'), lim)).toThrow(/not a usable zip/);
  });
});

function writeStyle(dir: string, id: string, editorWeights: string | null, bad = false) {
  fs.mkdirSync(dir, { recursive: true });
  const n = 8 * 64 + 368;
  const f = new Float32Array(n).map((_, i) => Math.sin(i));
  if (bad) f[3] = NaN;
  fs.writeFileSync(path.join(dir, `${id}.bin`), Buffer.from(f.buffer));
  fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ name: id, label: `Label ${id}`, k: 8, d: 64, normDim: 368, tokensOffset: 0, normOffset: 512, pairs: 4, steps: 10, createdAt: 1, editor: { onnx: null, weights: editorWeights } }));
}

describe('style store', () => {
  test('installs checked trainer output, flags styles made for other weights, deletes only user styles', () => {
    const root = tmp();
    const weights = path.join(EDITOR_ASSETS_DIR, 'editor.pt');
    const store = new StyleStore(path.join(root, 'styles'), path.join(root, 'builtin'), weights);
    const cur = fileHash(weights);
    writeStyle(path.join(root, 'builtin'), 'shipped', cur);
    writeStyle(path.join(root, 'out'), 'mine', cur);
    writeStyle(path.join(root, 'out'), 'broken', cur, true);
    writeStyle(path.join(root, 'styles'), 'old', 'ffffffffffffffff');
    fs.writeFileSync(path.join(root, 'styles', 'half.json'), '{"name":"half"'); // a torn write is not a style
    const info = store.install(path.join(root, 'out'), 'mine', { k: 8, d: 64, normDim: 368 });
    expect(info).toMatchObject({ id: 'mine', label: 'Label mine', source: 'user', stale: cur === null });
    expect(() => store.install(path.join(root, 'out'), 'broken', null)).toThrow(/non-finite/);
    expect(() => store.install(path.join(root, 'out'), 'mine', { k: 8, d: 32, normDim: 368 })).toThrow(/sizes/);
    const list = store.list();
    expect(list.map((s) => s.id)).toEqual(['shipped', 'mine', 'old']);
    expect(list.find((s) => s.id === 'old')!.stale).toBe(true);
    expect(store.presets().find((p) => p.id === 'mine')).toMatchObject({ kind: 'adapted', deletable: true });
    expect(() => store.delete('shipped')).toThrow(/built-in/);
    expect(() => store.delete('nope')).toThrow(/no style/);
    store.delete('mine');
    expect(store.list().map((s) => s.id)).toEqual(['shipped', 'old']);
    expect(fs.existsSync(path.join(root, 'styles', 'mine.bin'))).toBe(false);
  });
});

describe('adaptation API', () => {
  let server: RunningServer;
  let dataDir: string;
  let token: string;
  let viewerToken: string;
  const prevEnv = process.env.PE_DATA_DIR;

  beforeAll(async () => {
    dataDir = tmp();
    // an existing user style that no failed or cancelled job may touch
    writeStyle(path.join(dataDir, 'styles'), 'keep-me', fileHash(path.join(EDITOR_ASSETS_DIR, 'editor.pt')));
    process.env.PE_DATA_DIR = dataDir;
    server = await startServer({ port: 0, numWorkers: 1 });
    const room = await (await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{}' })).json();
    token = room.guestToken;
    viewerToken = server.tokens.sign({ room: room.roomId, role: 'viewer', exp: Math.floor(Date.now() / 1000) + 600 });
  });
  afterAll(async () => {
    await server?.close();
    if (prevEnv === undefined) delete process.env.PE_DATA_DIR;
    else process.env.PE_DATA_DIR = prevEnv;
  });

  const keepMe = () => fs.readFileSync(path.join(dataDir, 'styles', 'keep-me.bin'));

  async function post(files: { name: string; data: Buffer }[], fields: Record<string, string> = { name: 'Test style', minutes: '0.5' }, auth: string | null = token) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
    for (const f of files) fd.append(f.name.endsWith('.zip') ? 'zip' : 'file', new Blob([new Uint8Array(f.data)]), f.name);
    const res = await fetch(`${server.url}/api/adapt/jobs`, { method: 'POST', body: fd, headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    return { status: res.status, body: await res.json() };
  }

  async function realPairs(n: number) {
    const out: { name: string; data: Buffer }[] = [];
    for (let i = 1; i <= n; i++) {
      out.push({ name: `p${i}_before.png`, data: face(i) });
      out.push({ name: `p${i}_after.png`, data: await styled(face(i)) });
    }
    return out;
  }

  test('the gallery lists adapted styles and GET /api/styles is public', async () => {
    const { presets } = await (await fetch(`${server.url}/api/presets`)).json();
    expect(presets.find((p: { id: string }) => p.id === 'keep-me')).toMatchObject({ kind: 'adapted', deletable: true });
    const s = await (await fetch(`${server.url}/api/styles`)).json();
    expect(s.styles.map((x: { id: string }) => x.id)).toContain('keep-me');
  });

  test('bad uploads get clear errors and start nothing', async () => {
    const png = await sharp({ create: { width: 128, height: 128, channels: 3, background: '#888' } }).png().toBuffer();
    const pairs = await realPairs(2);
    const cases: [ReturnType<typeof post>, number, RegExp][] = [
      [post(pairs, undefined, null), 401, /token/],
      [post(pairs, undefined, viewerToken), 401, /view-only/],
      [post(pairs.slice(0, 2)), 400, /1 pair: at least 2/],
      [post([...pairs, { name: 'p3_before.png', data: png }]), 400, /problem/],
      [post([...pairs.slice(0, 2), { name: 'p2_before.png', data: Buffer.from('hello, not an image') }, { name: 'p2_after.png', data: png }]), 400, /problem/],
      [post([...pairs.slice(0, 2), { name: 'p2_before.png', data: Buffer.concat([png.subarray(0, 8), Buffer.alloc(6 * 1024 * 1024)]) }, { name: 'p2_after.png', data: png }]), 400, /problem/],
      [post(pairs, { name: '', minutes: '5' }), 400, /name/],
      [post(pairs, { name: 'x', minutes: '500' }), 400, /minutes/],
      [post([{ name: 'pairs.zip', data: Buffer.from('PK but not really a zip file') }]), 400, /zip/],
    ];
    const details: string[][] = [];
    for (const [p, status, msg] of cases) {
      const r = await p;
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      expect(r.body.error.message).toMatch(msg);
      details.push(r.body.error.details ?? []);
    }
    expect(details[3].join('\n')).toMatch(/p3: has a before image but no after image/);
    expect(details[4].join('\n')).toMatch(/p2_before.png: not a PNG, JPEG or WebP image/);
    expect(details[5].join('\n')).toMatch(/larger than 5 MB/);
    // a wrongly framed 'after' and a before without a face
    const wide = await sharp({ create: { width: 600, height: 200, channels: 3, background: '#123' } }).png().toBuffer();
    const r = await post([...pairs, { name: 'w_before.png', data: face(3) }, { name: 'w_after.png', data: wide }]);
    expect(r.status).toBe(400);
    expect(r.body.error.details.join('\n')).toMatch(/w: the after image \(600×200\) is not framed like the before image/);
    const nofaces = await post([{ name: 'a_before.png', data: png }, { name: 'a_after.png', data: png }, { name: 'b_before.png', data: png }, { name: 'b_after.png', data: png }]);
    expect(nofaces.status).toBe(400);
    expect(nofaces.body.error.message).toMatch(/only 0 pairs show a face/);
    const { jobs } = await (await fetch(`${server.url}/api/adapt/jobs`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(jobs).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, 'styles')).sort()).toEqual(['keep-me.bin', 'keep-me.json']);
  }, 120_000);

  const job = async (id: string) => (await (await fetch(`${server.url}/api/adapt/jobs/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()).job;
  async function until(id: string, pred: (j: { state: string; phase: string | null }) => boolean, ms: number) {
    const t0 = Date.now();
    for (;;) {
      const j = await job(id);
      if (pred(j)) return j;
      if (Date.now() - t0 > ms) throw new Error(`job ${id} stuck: ${JSON.stringify(j)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  test.skipIf(!CAN_TRAIN)('a job trains a style (zip upload) that every room\'s gallery lists, usable at once, then deletable', async () => {
    const before = keepMe();
    const zip = makeZip((await realPairs(3)).map((f) => ({ name: `mine/${f.name}`, data: f.data, deflate: true })));
    const r = await post([{ name: 'mine.zip', data: zip }], { name: 'Teal tint', minutes: '0.5' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.job).toMatchObject({ styleId: expect.stringMatching(/^teal-tint-[a-z0-9]{5}$/), label: 'Teal tint', pairs: 3, state: expect.stringMatching(/queued|running/) });
    const id = r.body.job.styleId as string;
    let sawTraining = false;
    const done = await until(r.body.job.id, (j) => {
      sawTraining ||= j.phase === 'training';
      return j.state !== 'queued' && j.state !== 'running';
    }, 240_000);
    expect(done.state, JSON.stringify(done)).toBe('done');
    expect(done.step).toBeGreaterThan(0);
    expect(done.fraction).toBe(1);
    // another room's gallery
    const { presets } = await (await fetch(`${server.url}/api/presets`)).json();
    expect(presets.find((p: { id: string }) => p.id === id)).toMatchObject({ label: 'Teal tint', stale: false, deletable: true });
    // the runtime that filter workers use finds it (same data directory, through the environment)
    const { PortraitEditor } = await import('@portrait-edit/models');
    const ed = await PortraitEditor.load({ warmup: false, textEncoder: false });
    const s = ed.adaptedStyle(id);
    expect(s?.tokens.length).toBe(8 * 64);
    expect(s?.norm.length).toBe(368);
    const del = await fetch(`${server.url}/api/styles/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(200);
    const after = await (await fetch(`${server.url}/api/presets`)).json();
    expect(after.presets.find((p: { id: string }) => p.id === id)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1100)); // the runtime re-checks files once a second
    expect(ed.adaptedStyle(id)).toBeNull();
    await ed.close();
    expect(keepMe().equals(before)).toBe(true);
    expect(fs.readdirSync(path.join(dataDir, 'jobs', String(process.pid)))).toEqual([]);
  }, 300_000);

  test.skipIf(!CAN_TRAIN)('a cancelled job installs nothing and leaves no process; a queued one waits its turn', async () => {
    const before = keepMe();
    const pairs = await realPairs(2);
    const a = await post(pairs, { name: 'Cancel me', minutes: '2' });
    const b = await post(pairs, { name: 'Cancel me', minutes: '2' });
    expect(a.status, JSON.stringify(a.body)).toBe(202);
    expect(b.status, JSON.stringify(b.body)).toBe(202);
    expect(b.body.job.styleId).toMatch(/^cancel-me-[a-z0-9]{5}$/);
    expect(b.body.job.styleId).not.toBe(a.body.job.styleId);
    expect(b.body.job).toMatchObject({ state: 'queued', queuePosition: 0 });
    await until(a.body.job.id, (j) => j.state === 'running', 30_000);
    const qc = await fetch(`${server.url}/api/adapt/jobs/${b.body.job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect((await qc.json()).job.state).toBe('cancelled');
    await until(a.body.job.id, (j) => j.phase === 'faces' || j.phase === 'training', 120_000);
    const rc = await fetch(`${server.url}/api/adapt/jobs/${a.body.job.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(rc.status).toBe(200);
    const end = await until(a.body.job.id, (j) => j.state !== 'running', 15_000);
    expect(end.state).toBe('cancelled');
    expect(fs.readdirSync(path.join(dataDir, 'styles')).sort()).toEqual(['keep-me.bin', 'keep-me.json']);
    expect(keepMe().equals(before)).toBe(true);
  }, 200_000);
});

describe.skipIf(!CAN_TRAIN)('a crashed trainer', () => {
  test('fails the job with a reason, installs nothing, and the next job still runs', async () => {
    const root = tmp();
    writeStyle(path.join(root, 'styles'), 'keep-me', null);
    const before = fs.readFileSync(path.join(root, 'styles', 'keep-me.bin'));
    const svc = new AdaptService({ dataDir: root, faceCheck: null });
    const plans = planPairs([
      { path: 'a_before.png', data: face(1) }, { path: 'a_after.png', data: await styled(face(1)) },
      { path: 'b_before.png', data: face(2) }, { path: 'b_after.png', data: await styled(face(2)) },
    ]).pairs;
    const start = async (label: string) => {
      const { id, dir } = svc.jobs.newJobDir();
      await validateAndWritePairs(plans, path.join(dir, 'pairs'), null);
      return svc.jobs.submit({ id, dir, styleId: svc.styleIdFor(label), label, minutes: 2, pairs: 2, skipped: [] });
    };
    const j = await start('Crash');
    const second = await start('After crash');
    expect(svc.jobs.get(second.id)!.state).toBe('queued');
    for (let t = 0; svc.jobs.pids().length === 0 && t < 100; t++) await new Promise((r) => setTimeout(r, 100));
    const [pid] = svc.jobs.pids();
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    for (let t = 0; svc.jobs.get(j.id)!.state === 'running' && t < 100; t++) await new Promise((r) => setTimeout(r, 100));
    const failed = svc.jobs.get(j.id)!;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/stopped \(SIGKILL\)/);
    expect(svc.jobs.get(second.id)!.state).toBe('running');
    await svc.close();
    expect(svc.jobs.get(second.id)!.state).toBe('cancelled');
    expect(svc.jobs.pids()).toEqual([]);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(fs.readdirSync(path.join(root, 'styles')).sort()).toEqual(['keep-me.bin', 'keep-me.json']);
    expect(fs.readFileSync(path.join(root, 'styles', 'keep-me.bin')).equals(before)).toBe(true);
  }, 120_000);
});
