import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { PLAYOUT_DELAY_ID, PlayoutDelayRelay, addPlayoutDelay } from '../src/filter/playout-delay-relay.js';

/** An RTP packet: V=2, marker, PT 101, seq, timestamp, SSRC, `csrcs` CSRCs, then the payload. */
function rtp(payload: number[], csrcs = 0): Buffer {
  const h = Buffer.alloc(12 + 4 * csrcs);
  h[0] = 0x80 | csrcs;
  h[1] = 0x80 | 101;
  h.writeUInt16BE(4242, 2);
  h.writeUInt32BE(90000, 4);
  h.writeUInt32BE(0x1234567, 8);
  for (let i = 0; i < csrcs; i++) h.writeUInt32BE(0xc0000000 + i, 12 + 4 * i);
  return Buffer.concat([h, Buffer.from(payload)]);
}

/** The one-byte header extensions of an RTP packet (RFC 8285), by id, and the payload after them. */
function parse(p: Buffer): { ext: Map<number, Buffer>; payload: Buffer } {
  const header = 12 + 4 * (p[0] & 0x0f);
  const ext = new Map<number, Buffer>();
  if (!(p[0] & 0x10)) return { ext, payload: p.subarray(header) };
  expect(p.readUInt16BE(header)).toBe(0xbede);
  const words = p.readUInt16BE(header + 2);
  let i = header + 4;
  const end = i + 4 * words;
  while (i < end) {
    if (p[i] === 0) {
      i++;
      continue;
    }
    const id = p[i] >> 4;
    const len = (p[i] & 0x0f) + 1;
    ext.set(id, p.subarray(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return { ext, payload: p.subarray(end) };
}

describe('playout-delay relay', () => {
  it('adds playout-delay (min 0, max 0) as a one-byte header extension and keeps the rest of the packet', () => {
    for (const csrcs of [0, 2]) {
      const p = rtp([1, 2, 3, 4, 5, 6, 7], csrcs);
      const out = Buffer.alloc(1600);
      const n = addPlayoutDelay(p, p.length, out);
      expect(n).toBe(p.length + 8);
      const q = out.subarray(0, n);
      expect(q[0] & 0x10).toBe(0x10);
      expect(q[0] & 0xef).toBe(p[0]);
      expect(q.subarray(1, 12 + 4 * csrcs)).toEqual(p.subarray(1, 12 + 4 * csrcs));
      const { ext, payload } = parse(q);
      expect([...ext.keys()]).toEqual([PLAYOUT_DELAY_ID]);
      expect([...ext.get(PLAYOUT_DELAY_ID)!]).toEqual([0, 0, 0]);
      expect([...payload]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it('leaves alone what it must not rewrite: not RTP v2, extensions already there, runts, oversize', () => {
    const out = Buffer.alloc(1600);
    const v1 = rtp([1]);
    v1[0] = (v1[0] & 0x3f) | 0x40;
    expect(addPlayoutDelay(v1, v1.length, out)).toBe(-1);
    const withExt = rtp([1]);
    withExt[0] |= 0x10;
    expect(addPlayoutDelay(withExt, withExt.length, out)).toBe(-1);
    expect(addPlayoutDelay(Buffer.alloc(8, 0x80), 8, out)).toBe(-1);
    const short = rtp([], 3).subarray(0, 16); // claims 3 CSRCs, has 1
    expect(addPlayoutDelay(short, short.length, out)).toBe(-1);
    const big = rtp(new Array(1596).fill(7));
    expect(addPlayoutDelay(big, big.length, out)).toBe(-1);
  });

  describe('over UDP', () => {
    const closers: (() => void)[] = [];
    afterEach(() => {
      for (const c of closers.splice(0)) c();
    });

    it('forwards every packet, in order, rewritten', async () => {
      const sink = dgram.createSocket('udp4');
      closers.push(() => sink.close());
      await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
      const got: Buffer[] = [];
      const all = new Promise<void>((r) => sink.on('message', (m) => got.push(m) === 100 && r()));
      const relay = await PlayoutDelayRelay.open(sink.address().port);
      closers.push(() => relay.close());
      const src = dgram.createSocket('udp4');
      closers.push(() => src.close());
      for (let i = 0; i < 100; i++) {
        const p = rtp([i, 255 - i]);
        p.writeUInt16BE(i, 2);
        src.send(p, relay.port, '127.0.0.1');
      }
      await all;
      expect(relay.forwarded).toBe(100);
      expect(relay.unchanged).toBe(0);
      got.forEach((q, i) => {
        expect(q.readUInt16BE(2)).toBe(i);
        const { ext, payload } = parse(q);
        expect(ext.has(PLAYOUT_DELAY_ID)).toBe(true);
        expect([...payload]).toEqual([i, 255 - i]);
      });
    });
  });
});
