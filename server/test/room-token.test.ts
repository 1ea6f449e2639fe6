import { describe, expect, test } from 'vitest';
import { RoomTokens } from '../src/auth/room-token.js';

const tokens = new RoomTokens(Buffer.from('test-secret'));
const now = Math.floor(Date.now() / 1000);

describe('room tokens', () => {
  test('a signed token verifies to its payload', () => {
    const t = tokens.sign({ room: 'abcd1234', role: 'guest', exp: now + 60 });
    expect(tokens.verify(t)).toEqual({ room: 'abcd1234', role: 'guest', exp: now + 60 });
  });

  test('tampered, foreign, expired and malformed tokens are refused with a reason', () => {
    const t = tokens.sign({ room: 'abcd1234', role: 'guest', exp: now + 60 });
    const [body, sig] = t.split('.');
    const forged = Buffer.from(JSON.stringify({ room: 'abcd1234', role: 'host', exp: now + 60 })).toString('base64url');
    expect(() => tokens.verify(`${forged}.${sig}`)).toThrow('bad token signature');
    expect(() => new RoomTokens(Buffer.from('other')).verify(t)).toThrow('bad token signature');
    expect(() => tokens.verify(tokens.sign({ room: 'abcd1234', role: 'guest', exp: now - 1 }))).toThrow('token expired');
    expect(() => tokens.verify(undefined)).toThrow('missing token');
    expect(() => tokens.verify(`${body}`)).toThrow('malformed token');
    expect(() => tokens.verify('a.b.c')).toThrow('malformed token');
    expect(() => tokens.verify('x'.repeat(5000))).toThrow('token too long');
  });

  test('only the signature as signed is accepted, not another spelling of the same bytes', () => {
    const t = tokens.sign({ room: 'abcd1234', role: 'guest', exp: now + 60 });
    const [body, sig] = t.split('.');
    // 32 MAC bytes take 43 base64url characters; the last one carries 2 spare bits.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(sig[sig.length - 1]);
    const twin = `${sig.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    expect(() => tokens.verify(`${body}.${twin}`)).toThrow('bad token signature');
    expect(tokens.verify(t).role).toBe('guest');
  });
});
