import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer, type RunningServer } from '../src/app.js';

let server: RunningServer;
let roomId: string;
let guestToken: string;

beforeAll(async () => {
  server = await startServer({ port: 0, numWorkers: 1, debugEndpoints: true, processor: 'passthrough' });
  const res = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{}' });
  ({ roomId, guestToken } = await res.json());
});
afterAll(() => server?.close());

function client(token: unknown): Socket {
  return connect(server.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
}

function connectError(token: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = client(token);
    s.on('connect', () => reject(new Error('connected without a valid token')));
    s.on('connect_error', (e) => {
      s.close();
      resolve(e.message);
    });
  });
}

async function connected(token = guestToken): Promise<Socket> {
  const s = client(token);
  await new Promise<void>((resolve, reject) => {
    s.on('connect', () => resolve());
    s.on('connect_error', reject);
  });
  return s;
}

function request(s: Socket, msg: unknown): Promise<any> {
  return s.timeout(5000).emitWithAck('request', msg);
}

describe('signalling refuses what it must and keeps serving', () => {
  test('connections without a valid token, or for an unknown room, are refused', async () => {
    expect(await connectError(undefined)).toBe('UNAUTHORIZED: missing token');
    expect(await connectError('garbage')).toBe('UNAUTHORIZED: malformed token');
    expect(await connectError(guestToken.slice(0, -3) + 'AAA')).toMatch(/^UNAUTHORIZED: bad token signature/);
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(await connectError(server.tokens.sign({ room: 'no-such-room', role: 'host', exp }))).toMatch(/^UNKNOWN_ROOM/);
    expect(await connectError(server.tokens.sign({ room: roomId, role: 'host', exp: exp - 120 }))).toBe('UNAUTHORIZED: token expired');
  });

  test('garbage, wrong types, unknown and out-of-order requests get coded errors', async () => {
    const s = await connected();
    const cases: [unknown, string][] = [
      [null, 'BAD_REQUEST'],
      ['hello', 'BAD_REQUEST'],
      [42, 'BAD_REQUEST'],
      [[1, 2, 3], 'BAD_REQUEST'],
      [{}, 'BAD_REQUEST'],
      [{ type: 'selfDestruct' }, 'BAD_REQUEST'],
      [{ type: 'join' }, 'BAD_REQUEST'],
      [{ type: 'join', displayName: 12, rtpCapabilities: {} }, 'BAD_REQUEST'],
      [{ type: 'join', displayName: '   ', rtpCapabilities: {} }, 'BAD_REQUEST'],
      [{ type: 'createTransport', direction: 'sideways' }, 'BAD_REQUEST'],
      [{ type: 'getRouterRtpCapabilities', extra: { __proto__: { polluted: true } } }, 'BAD_REQUEST'],
      [{ type: 'setFilter', settings: { strength: 7 } }, 'BAD_REQUEST'],
      [{ type: 'setFilter', settings: { prompt: { kind: 'text', text: '' } } }, 'BAD_REQUEST'],
      // Out of order: nothing but capabilities and join before joining.
      [{ type: 'createTransport', direction: 'send' }, 'NOT_JOINED'],
      [{ type: 'produce', transportId: 'x', kind: 'video', rtpParameters: {} }, 'NOT_JOINED'],
      [{ type: 'consume', transportId: 'x', producerId: 'y' }, 'NOT_JOINED'],
      [{ type: 'setFilter', settings: { enabled: true } }, 'NOT_JOINED'],
    ];
    for (const [msg, code] of cases) {
      const res = await request(s, msg);
      expect(res.ok, JSON.stringify(msg)).toBe(false);
      expect(res.error.code, JSON.stringify(msg)).toBe(code);
      expect(typeof res.error.message).toBe('string');
    }
    // Once joined, requests naming things that do not exist are refused, not crashed on.
    const caps = (await request(s, { type: 'getRouterRtpCapabilities' })).data;
    expect((await request(s, { type: 'join', displayName: 'fuzzer', rtpCapabilities: caps })).ok).toBe(true);
    expect((await request(s, { type: 'join', displayName: 'again', rtpCapabilities: caps })).error.code).toBe('ALREADY_JOINED');
    expect((await request(s, { type: 'consume', transportId: 'nope', producerId: 'nope' })).error.code).toBe('NOT_FOUND');
    const t = (await request(s, { type: 'createTransport', direction: 'send' })).data;
    const bad = await request(s, { type: 'connectTransport', transportId: t.id, dtlsParameters: { role: 'bogus', fingerprints: 'x' } });
    expect(bad.ok).toBe(false);
    const badProduce = await request(s, { type: 'produce', transportId: t.id, kind: 'video', rtpParameters: { codecs: 'none' } });
    expect(badProduce.ok).toBe(false);
    expect((await request(s, { type: 'resumeConsumer', consumerId: 'ghost' })).error.code).toBe('NOT_FOUND');
    expect((await request(s, { type: 'pauseConsumer', consumerId: 'ghost' })).error.code).toBe('NOT_FOUND');
    s.emit('request', { type: 'ping' }); // no acknowledgement callback: ignored
    s.emit('somethingElse', { a: 1 }); // unknown event: ignored
    expect((await request(s, { type: 'ping' })).ok).toBe(true);
    s.close();
  });

  test('an oversized message drops that client only; the server keeps serving', async () => {
    const big = await connected();
    const gone = new Promise<string>((r) => big.on('disconnect', (reason) => r(String(reason))));
    big.emit('request', { type: 'join', displayName: 'x'.repeat(200_000), rtpCapabilities: {} }, () => {});
    expect(await gone).toBeTruthy();
    const s = await connected();
    expect((await request(s, { type: 'getRouterRtpCapabilities' })).ok).toBe(true);
    s.close();
  });

  test('a flood is rate limited, then the flooder is disconnected', async () => {
    const s = await connected();
    const results = await Promise.all(Array.from({ length: 150 }, () => request(s, { type: 'ping' }).catch(() => ({ ok: false, error: { code: 'DROPPED' } }))));
    const limited = results.filter((r) => !r.ok && r.error.code === 'RATE_LIMITED').length;
    expect(limited).toBeGreaterThan(0);
    s.close();
    const fresh = await connected();
    expect((await request(fresh, { type: 'ping' })).ok).toBe(true);
    fresh.close();
  });

  test('the HTTP API validates input', async () => {
    const tooBig = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(tooBig.status).toBe(413);
    const notJson = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
    const wrong = await fetch(`${server.url}/api/rooms`, { method: 'POST', body: JSON.stringify({ ttlHours: 9999 }) });
    expect(wrong.status).toBe(400);
    for (const p of ['/..%2f..%2f..%2fetc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2f..%2fetc%2fpasswd']) {
      const res = await fetch(`${server.url}${p}`);
      expect(await res.text()).not.toContain('root:');
    }
  });

  test('after all of it nothing is left behind', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const r = server.resources();
    expect(r.peers).toBe(0);
    expect(r.transports).toBe(0);
    expect(r.ffmpegPids).toEqual([]);
  });
});
