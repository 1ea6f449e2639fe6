import type { IncomingMessage, ServerResponse } from 'node:http';
import { CreateRoomRequestSchema } from '@portrait-edit/shared';
import type { RoomTokens } from '../auth/room-token.js';
import type { ServerConfig } from '../config.js';
import { ClientError } from '../errors.js';
import { KeyedRateLimiter } from '../rate-limit.js';
import type { RoomRegistry } from '../room-registry.js';

export interface ApiDeps {
  config: ServerConfig;
  tokens: RoomTokens;
  registry: RoomRegistry;
  resources: () => unknown;
  health: () => unknown;
}

const MAX_BODY = 4 * 1024;

/** JSON API under /api. Returns false when the path is not an API path. */
export function createApi(d: ApiDeps) {
  const roomLimiter = new KeyedRateLimiter(0.5, 20);
  return async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/api/')) return false;
    try {
      if (url.pathname === '/api/health' && req.method === 'GET') return send(res, 200, d.health());
      if (url.pathname === '/api/rooms' && req.method === 'POST') {
        if (!roomLimiter.take(req.socket.remoteAddress ?? '?')) throw new ClientError('RATE_LIMITED', 'too many rooms created, try again later');
        const body = CreateRoomRequestSchema.safeParse(await readJson(req));
        if (!body.success) throw new ClientError('BAD_REQUEST', 'invalid room request');
        const ttl = (body.data.ttlHours ?? d.config.tokenTtlSeconds / 3600) * 3600;
        const { roomId, expiresAt } = d.registry.create(ttl);
        return send(res, 201, {
          roomId,
          expiresAt,
          hostToken: d.tokens.sign({ room: roomId, role: 'host', exp: expiresAt }),
          guestToken: d.tokens.sign({ room: roomId, role: 'guest', exp: expiresAt }),
        });
      }
      if (url.pathname === '/api/debug/resources' && req.method === 'GET' && d.config.debugEndpoints) {
        return send(res, 200, d.resources());
      }
      throw new ClientError('NOT_FOUND', `no API at ${req.method} ${url.pathname}`);
    } catch (err) {
      if (err instanceof ClientError) {
        const status = { BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, TOO_LARGE: 413, RATE_LIMITED: 429 }[err.code as string] ?? 400;
        return send(res, status, { error: { code: err.code, message: err.message } });
      }
      return send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    }
  };
}

function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  return true;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ClientError('TOO_LARGE', 'request body too large');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ClientError('BAD_REQUEST', 'body is not JSON');
  }
}
