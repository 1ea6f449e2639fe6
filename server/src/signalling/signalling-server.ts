import crypto from 'node:crypto';
import type { Server, Socket } from 'socket.io';
import { ClientRequestSchema, type Ack, type TokenPayload } from '@portrait-edit/shared';
import type { RoomTokens } from '../auth/room-token.js';
import { ClientError } from '../errors.js';
import { Peer } from '../peer.js';
import { KeyedRateLimiter, TokenBucket } from '../rate-limit.js';
import type { RoomRegistry } from '../room-registry.js';

/** Requests per second a client may send, and how many refusals before we hang up on it. */
const RATE = 40;
const BURST = 80;
const MAX_STRIKES = 50;

/**
 * socket.io signalling: the handshake must carry a valid room token; then every `request`
 * is validated against the shared zod schema before the room sees it, and answered through
 * its acknowledgement with a result or a coded error. Garbage never reaches mediasoup, and
 * a client that keeps sending it is disconnected.
 */
export function attachSignalling(io: Server, tokens: RoomTokens, registry: RoomRegistry, opts: { connectionsPerMinute?: number } = {}): void {
  // Per client address: reconnect storms and scripted connection floods are refused before a
  // token is even checked (each connection costs a Peer and, once joined, mediasoup objects).
  const perMinute = opts.connectionsPerMinute ?? 120;
  const connections = new KeyedRateLimiter(perMinute / 60, Math.max(1, Math.ceil(perMinute / 4)));
  io.use((socket, next) => {
    if (!connections.take(socket.handshake.address || '?')) return next(new Error('RATE_LIMITED: too many connections, try again in a minute'));
    let payload: TokenPayload;
    try {
      payload = tokens.verify((socket.handshake.auth as { token?: unknown } | undefined)?.token);
    } catch (err) {
      return next(new Error(`UNAUTHORIZED: ${(err as Error).message}`));
    }
    if (!registry.exists(payload.room)) return next(new Error(`UNKNOWN_ROOM: room ${payload.room} does not exist or has expired`));
    socket.data.token = payload;
    next();
  });

  io.on('connection', (socket: Socket) => {
    const payload = socket.data.token as TokenPayload;
    const peer = new Peer(crypto.randomUUID(), socket, payload.role);
    const bucket = new TokenBucket(RATE, BURST);
    let strikes = 0;
    const strike = () => {
      if (++strikes >= MAX_STRIKES) socket.disconnect(true);
    };
    const roomP = registry.open(payload.room).then((room) => {
      room.addPeer(peer);
      return room;
    });
    roomP.catch((err) => {
      socket.emit('notice', { level: 'error', message: (err as Error).message });
      socket.disconnect(true);
    });

    socket.on('request', async (msg: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return strike();
      const reply = ack as (r: Ack) => void;
      if (!bucket.take()) {
        strike();
        return reply({ ok: false, error: { code: 'RATE_LIMITED', message: 'too many requests, slow down' } });
      }
      const parsed = ClientRequestSchema.safeParse(msg);
      if (!parsed.success) {
        strike();
        return reply({ ok: false, error: { code: 'BAD_REQUEST', message: describe(parsed.error) } });
      }
      try {
        const room = await roomP;
        const data = await room.handle(peer, parsed.data);
        reply({ ok: true, data });
      } catch (err) {
        if (err instanceof ClientError) {
          strike();
          return reply({ ok: false, error: { code: err.code, message: err.message } });
        }
        // mediasoup rejects parameters it cannot use with a TypeError/Error naming the field.
        const message = err instanceof Error ? err.message : String(err);
        reply({ ok: false, error: { code: err instanceof TypeError ? 'BAD_REQUEST' : 'INTERNAL', message } });
      }
    });

    socket.onAny((event: string) => {
      if (event !== 'request') strike();
    });

    socket.on('disconnect', () => {
      void roomP.then(async (room) => {
        await room.removePeer(peer);
        registry.closeIfEmpty(room);
      }, () => {});
    });
  });
}

function describe(e: import('zod').ZodError): string {
  const first = e.issues[0];
  if (!first) return 'invalid message';
  const where = first.path.length ? first.path.join('.') : 'message';
  return `invalid ${where}: ${first.message}`.slice(0, 300);
}
