import http from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer, type RunningServer } from '../src/app.js';
import { originAllowed } from '../src/http/origin.js';

// Roles, origins, connection floods and rooms spread over two mediasoup workers, against the
// real server (real mediasoup, real socket.io).

let server: RunningServer;
let room: { roomId: string; hostToken: string; guestToken: string };

beforeAll(async () => {
  server = await startServer({ port: 0, numWorkers: 2, maxPeersPerRouter: 1, processor: 'passthrough', debugEndpoints: true });
  room = await (await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{}' })).json();
});
afterAll(() => server?.close());

function client(token: string, origin?: string): Socket {
  return connect(server.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: origin ? { origin } : undefined });
}

function connected(s: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    s.on('connect', () => resolve(s));
    s.on('connect_error', reject);
  });
}

async function req(s: Socket, msg: unknown): Promise<any> {
  return s.timeout(5000).emitWithAck('request', msg);
}

async function joined(token: string, name: string) {
  const s = await connected(client(token));
  const caps = (await req(s, { type: 'getRouterRtpCapabilities' })).data;
  const j = await req(s, { type: 'join', displayName: name, rtpCapabilities: caps });
  expect(j.ok).toBe(true);
  return { s, peerId: j.data.peerId as string, caps };
}

/** A producer with made-up SSRCs: mediasoup accepts it without media; enough to consume it. */
async function fakeVideoProducer(s: Socket): Promise<string> {
  const t = (await req(s, { type: 'createTransport', direction: 'send' })).data;
  const p = await req(s, {
    type: 'produce',
    transportId: t.id,
    kind: 'video',
    rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 1111 }] },
  });
  expect(p.ok, JSON.stringify(p)).toBe(true);
  return p.data.producerId;
}

function httpPost(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = http.request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end('{}');
  });
}

describe('roles', () => {
  test('a viewer may not publish; only the owner or the host changes a filter', async () => {
    const host = await joined(room.hostToken, 'host');
    const guest = await joined(room.guestToken, 'guest');
    const exp = Math.floor(Date.now() / 1000) + 60;
    const viewer = await joined(server.tokens.sign({ room: room.roomId, role: 'viewer', exp }), 'viewer');

    expect((await req(viewer.s, { type: 'createTransport', direction: 'send' })).error.code).toBe('FORBIDDEN');
    expect((await req(viewer.s, { type: 'setFilter', settings: { strength: 0.5 } })).error.code).toBe('FORBIDDEN');
    expect((await req(viewer.s, { type: 'createViewerLink' })).error.code).toBe('FORBIDDEN');
    expect((await req(viewer.s, { type: 'createTransport', direction: 'recv' })).ok).toBe(true);

    // A guest changes its own filter, not the host's.
    expect((await req(guest.s, { type: 'setFilter', settings: { strength: 0.4 } })).data.settings.strength).toBe(0.4);
    const denied = await req(guest.s, { type: 'setFilter', peerId: host.peerId, settings: { strength: 0.1 } });
    expect(denied.error.code).toBe('FORBIDDEN');
    // The host may change the guest's (e.g. turn a filter off), and everyone hears of it.
    const heard = new Promise<any>((r) => guest.s.once('peerSettings', r));
    const set = await req(host.s, { type: 'setFilter', peerId: guest.peerId, settings: { strength: 0.9 } });
    expect(set.ok, JSON.stringify(set)).toBe(true);
    expect(set.data.settings.strength).toBe(0.9);
    expect(await heard).toMatchObject({ peerId: guest.peerId, settings: { strength: 0.9 } });
    expect((await req(host.s, { type: 'setFilter', peerId: 'nobody', settings: { strength: 0.9 } })).error.code).toBe('NOT_FOUND');
    for (const c of [host, guest, viewer]) c.s.close();
  });
});

describe('origins', () => {
  test('by default only same-origin pages (or non-browser clients) reach the API and signalling', async () => {
    const host = new URL(server.url).host;
    expect(await httpPost('/api/rooms', { origin: 'http://evil.example' })).toBe(403);
    expect(await httpPost('/api/rooms', { origin: 'null' })).toBe(403);
    expect(await httpPost('/api/rooms', { origin: `http://${host}` })).toBe(201);
    expect(await httpPost('/api/rooms', {})).toBe(201);

    const evil = client(room.guestToken, 'http://evil.example');
    await expect(connected(evil)).rejects.toThrow();
    evil.close();
    const same = await connected(client(room.guestToken, `http://${host}`));
    same.close();
  });

  test('an explicit list lets those origins in and no others', () => {
    const cfg = { allowedOrigins: ['https://app.example'] };
    expect(originAllowed(cfg, { headers: { origin: 'https://app.example', host: 'sfu.example' } })).toBe(true);
    expect(originAllowed(cfg, { headers: { origin: 'https://app.example.evil', host: 'sfu.example' } })).toBe(false);
    expect(originAllowed(cfg, { headers: { host: 'sfu.example' } })).toBe(true);
    expect(originAllowed({ allowedOrigins: 'same-origin' }, { headers: { origin: 'http://a:1', host: 'a:2' } })).toBe(false);
  });
});

describe('connection floods', () => {
  test('a client address opening connections too fast is refused, others are not affected', async () => {
    const small = await startServer({ port: 0, numWorkers: 1, processor: 'passthrough', connectionsPerMinute: 8 });
    try {
      const r = await (await fetch(`${small.url}/api/rooms`, { method: 'POST', body: '{}' })).json();
      const results: string[] = [];
      for (let i = 0; i < 6; i++) {
        results.push(await new Promise<string>((resolve) => {
          const s = connect(small.url, { auth: { token: r.guestToken }, transports: ['websocket'], reconnection: false, forceNew: true });
          s.on('connect', () => (s.close(), resolve('ok')));
          s.on('connect_error', (e) => (s.close(), resolve(e.message)));
        }));
      }
      // Burst of 2 (8 per minute / 4), then refusals with a reason.
      expect(results.slice(0, 2)).toEqual(['ok', 'ok']);
      expect(results.slice(2).every((m) => m.startsWith('RATE_LIMITED'))).toBe(true);
    } finally {
      await small.close();
    }
  });
});

describe('a room spanning two mediasoup workers', () => {
  test('peers beyond the per-router cap land on another worker; media is piped between them', async () => {
    const a = await joined(room.hostToken, 'a');
    const b = await joined(room.guestToken, 'b');
    // Transports are what pin a peer to a router.
    await req(a.s, { type: 'createTransport', direction: 'recv' });
    const bRecv = (await req(b.s, { type: 'createTransport', direction: 'recv' })).data;
    const live = server.registry.liveRooms().find((r) => r.id === room.roomId)!;
    const spread = live.routers.describe();
    expect(spread.satellites).toHaveLength(1);
    expect(spread.satellites[0]).not.toBe(spread.home);
    expect((await server.workerDump()).routers).toBe(2);

    // A's producer lives on the home router; B (on the satellite) consumes it through a pipe.
    const aProducer = await fakeVideoProducer(a.s);
    const c = await req(b.s, { type: 'consume', transportId: bRecv.id, producerId: aProducer });
    expect(c.ok, JSON.stringify(c)).toBe(true);
    // B's producer is made on the satellite and piped home, where A (and filters) consume it.
    const bProducer = await fakeVideoProducer(b.s);
    const aRecv = (await req(a.s, { type: 'createTransport', direction: 'recv' })).data;
    const c2 = await req(a.s, { type: 'consume', transportId: aRecv.id, producerId: bProducer });
    expect(c2.ok, JSON.stringify(c2)).toBe(true);
    // Closing the origin producer closes the consumer on the other worker.
    const closed = new Promise<any>((r) => b.s.once('consumerClosed', r));
    expect((await req(a.s, { type: 'closeProducer', producerId: aProducer })).ok).toBe(true);
    expect((await closed).consumerId).toBe(c.data.consumerId);

    a.s.close();
    b.s.close();
    const t0 = Date.now();
    while (server.resources().peers > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    expect((await server.workerDump()).routers).toBe(0);
  });
});
