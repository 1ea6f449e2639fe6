import type { IncomingMessage, ServerResponse } from 'node:http';
import { CreateRoomRequestSchema } from '@portrait-edit/shared';
import type { RoomTokens } from '../auth/room-token.js';
import type { ServerConfig } from '../config.js';
import { ClientError } from '../errors.js';
import { readBody, send } from './http-io.js';
import { KeyedRateLimiter } from '../rate-limit.js';
import type { RoomRegistry } from '../room-registry.js';
import { UPLOAD_LIMITS, type UploadStore } from '../uploads/upload-store.js';
import { loadPresets } from './presets.js';
import { AdaptService, adaptOptionsFromEnv } from '../adapt/adapt-service.js';
import { faceCheck } from '../uploads/face-check.js';
import { createStylesApi } from './styles-api.js';

export interface ApiDeps {
  config: ServerConfig;
  tokens: RoomTokens;
  registry: RoomRegistry;
  uploads: UploadStore;
  resources: () => unknown;
  health: () => unknown;
  /** Adapted styles and training jobs (default: from the environment, see adapt-service.ts). */
  adapt?: AdaptService;
}

const MAX_BODY = 4 * 1024;

/** JSON API under /api. Returns false when the path is not an API path. */
export function createApi(d: ApiDeps) {
  const roomLimiter = new KeyedRateLimiter(0.5, 20);
  const uploadLimiter = new KeyedRateLimiter(0.2, 10);
  const presets = loadPresets();
  const adapt = d.adapt ?? new AdaptService({ ...adaptOptionsFromEnv(), reservedIds: presets.map((p) => p.id), faceCheck });
  const styles = createStylesApi({ adapt, tokens: d.tokens, registry: d.registry });
  return Object.assign(handleApi, { adapt });
  async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/api/')) return false;
    try {
      if (url.pathname === '/api/health' && req.method === 'GET') return send(res, 200, d.health());
      if (url.pathname === '/api/presets' && req.method === 'GET') return send(res, 200, { presets: [...presets, ...adapt.presets()] });
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
      if (url.pathname === '/api/uploads' && req.method === 'POST') {
        const auth = req.headers.authorization ?? '';
        let room: string;
        try {
          const p = d.tokens.verify(auth.startsWith('Bearer ') ? auth.slice(7) : undefined);
          if (p.role === 'viewer') throw new Error('viewers cannot upload');
          room = p.room;
        } catch (err) {
          throw new ClientError('UNAUTHORIZED', (err as Error).message);
        }
        if (!d.registry.exists(room)) throw new ClientError('NOT_FOUND', 'unknown room');
        if (!uploadLimiter.take(room)) throw new ClientError('RATE_LIMITED', 'too many uploads, wait a little');
        const declared = Number(req.headers['content-length']);
        if (declared > UPLOAD_LIMITS.maxBytes) {
          req.resume();
          throw new ClientError('TOO_LARGE', `image is larger than ${UPLOAD_LIMITS.maxBytes / 1024 / 1024} MB`);
        }
        const body = await readBody(req, UPLOAD_LIMITS.maxBytes, `image is larger than ${UPLOAD_LIMITS.maxBytes / 1024 / 1024} MB`);
        const u = await d.uploads.add(room, req.headers['content-type'], body);
        return send(res, 201, { uploadId: u.id, width: u.sourceWidth, height: u.sourceHeight, hasFace: u.hasFace });
      }
      if (url.pathname === '/api/debug/resources' && req.method === 'GET' && d.config.debugEndpoints) {
        return send(res, 200, d.resources());
      }
      if (await styles(req, res, url)) return true;
      throw new ClientError('NOT_FOUND', `no API at ${req.method} ${url.pathname}`);
    } catch (err) {
      if (err instanceof ClientError) {
        const status = { BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, TOO_LARGE: 413, UNSUPPORTED: 415, RATE_LIMITED: 429 }[err.code as string] ?? 400;
        return send(res, status, { error: { code: err.code, message: err.message } });
      }
      return send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    }
  }
}


async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, MAX_BODY);
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ClientError('BAD_REQUEST', 'body is not JSON');
  }
}
