import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { ADAPT_LIMITS, AdaptJobRequestSchema } from '@portrait-edit/shared';
import type { RoomTokens } from '../auth/room-token.js';
import { ClientError } from '../errors.js';
import { readBody, send } from './http-io.js';
import { KeyedRateLimiter } from '../rate-limit.js';
import type { RoomRegistry } from '../room-registry.js';
import type { AdaptService } from '../adapt/adapt-service.js';
import { PairsError, looksLikeImage, planPairs, validateAndWritePairs, type NamedFile } from '../adapt/pairs.js';
import { readZip } from '../adapt/zip.js';

export interface StylesApiDeps {
  adapt: AdaptService;
  tokens: RoomTokens;
  registry: RoomRegistry;
}

const STATUS: Record<string, number> = { BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, TOO_LARGE: 413, UNSUPPORTED: 415, RATE_LIMITED: 429, INTERNAL: 503 };

/**
 * Styles and adaptation jobs:
 *   GET    /api/styles                  adapted styles (public, like /api/presets)
 *   DELETE /api/styles/:id              delete a user style (room token)
 *   POST   /api/adapt/jobs              start a job (room token): multipart/form-data with `name`,
 *                                       `minutes` and image files (`file`, named NAME_before.png /
 *                                       NAME_after.png or before/NAME.png + after/NAME.png) and/or one
 *                                       `zip`; or a raw application/zip body with ?name=&minutes=
 *   GET    /api/adapt/jobs[/:id]        state and progress of the jobs this room started (room token)
 *   DELETE /api/adapt/jobs/:id          cancel (room token)
 * Returns false for other paths. Errors: { error: { code, message, details? } }.
 */
export function createStylesApi(d: StylesApiDeps) {
  // Uploads cost CPU to check; jobs cost minutes of training.
  const uploadLimiter = new KeyedRateLimiter(0.2, 20);
  const jobLimiter = new KeyedRateLimiter(1 / 20, 3);

  const auth = (req: IncomingMessage): string => {
    const h = req.headers.authorization ?? '';
    try {
      const p = d.tokens.verify(h.startsWith('Bearer ') ? h.slice(7) : undefined);
      if (p.role === 'viewer') throw new Error('view-only links cannot manage styles');
      if (!d.registry.exists(p.room)) throw new Error('unknown room');
      return p.room;
    } catch (err) {
      throw new ClientError('UNAUTHORIZED', (err as Error).message);
    }
  };

  return async function handleStyles(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const p = url.pathname;
    if (!(p === '/api/styles' || p.startsWith('/api/styles/') || p === '/api/adapt/jobs' || p.startsWith('/api/adapt/jobs/'))) return false;
    try {
      if (p === '/api/styles' && req.method === 'GET') {
        return send(res, 200, { styles: d.adapt.styles.list(), editor: d.adapt.styles.editorHash(), adaptAvailable: d.adapt.jobs.available });
      }
      const styleId = /^\/api\/styles\/([^/]+)$/.exec(p)?.[1];
      if (styleId && req.method === 'DELETE') {
        auth(req);
        d.adapt.styles.delete(decodeURIComponent(styleId));
        return send(res, 200, { ok: true });
      }
      if (p === '/api/adapt/jobs' && req.method === 'GET') {
        return send(res, 200, { jobs: d.adapt.jobs.list(auth(req)) });
      }
      const jobId = /^\/api\/adapt\/jobs\/([A-Za-z0-9_-]{1,32})$/.exec(p)?.[1];
      if (jobId && req.method === 'GET') {
        const j = d.adapt.jobs.get(jobId, auth(req));
        if (!j) throw new ClientError('NOT_FOUND', 'no such job');
        return send(res, 200, { job: j });
      }
      if (jobId && req.method === 'DELETE') {
        return send(res, 200, { job: d.adapt.jobs.cancel(jobId, auth(req)) });
      }
      if (p === '/api/adapt/jobs' && req.method === 'POST') {
        const room = auth(req);
        if (!d.adapt.jobs.available) throw new ClientError('UNSUPPORTED', 'style training is not installed on this server (models/training/.venv is missing)');
        if (!uploadLimiter.take(room)) {
          req.resume();
          throw new ClientError('RATE_LIMITED', 'too many uploads from this room; wait a little');
        }
        return send(res, 202, { job: await createJob(req, url, room) });
      }
      throw new ClientError('NOT_FOUND', `no API at ${req.method} ${p}`);
    } catch (err) {
      if (err instanceof ClientError) {
        const details = err instanceof PairsError ? err.details : undefined;
        return send(res, STATUS[err.code] ?? 400, { error: { code: err.code, message: err.message, ...(details ? { details } : {}) } });
      }
      return send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    }
  };

  async function createJob(req: IncomingMessage, url: URL, room: string) {
    const max = ADAPT_LIMITS.maxRequestBytes;
    const declared = Number(req.headers['content-length']);
    if (declared > max) {
      req.resume();
      throw new ClientError('TOO_LARGE', `the upload is larger than ${max / 1024 / 1024} MB`);
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const body = await readBody(req, max, `the upload is larger than ${max / 1024 / 1024} MB`);
    const files: NamedFile[] = [];
    let fields: Record<string, string> = {};
    const problems: string[] = [];
    const addZip = (buf: Buffer, name: string) => {
      const z = readZip(buf, { maxEntries: 4 * ADAPT_LIMITS.maxPairs + 50, maxEntryBytes: ADAPT_LIMITS.maxFileBytes, maxTotalBytes: max, want: looksLikeImage });
      for (const t of z.tooLarge) problems.push(`${name}: ${t} is larger than ${ADAPT_LIMITS.maxFileBytes / 1024 / 1024} MB`);
      for (const s of z.skipped) problems.push(`${name}: ${s} is not a PNG, JPEG or WebP file`);
      files.push(...z.entries);
    };
    if (type === 'multipart/form-data') {
      let form: FormData;
      try {
        form = await new Response(new Uint8Array(body), { headers: { 'content-type': req.headers['content-type']! } }).formData();
      } catch {
        throw new ClientError('BAD_REQUEST', 'the form data cannot be read');
      }
      for (const [k, v] of form) {
        if (typeof v === 'string') {
          fields[k] = v;
          continue;
        }
        const buf = Buffer.from(await v.arrayBuffer());
        if (k === 'zip' || /\.zip$/i.test(v.name)) addZip(buf, v.name || 'zip');
        else if (k === 'file') files.push({ path: v.name || 'unnamed', data: buf });
        else problems.push(`unexpected form field "${k}"`);
      }
    } else if (type === 'application/zip' || type === 'application/x-zip-compressed') {
      fields = Object.fromEntries(url.searchParams);
      addZip(body, 'zip');
    } else {
      throw new ClientError('UNSUPPORTED', 'send multipart/form-data (name, minutes, files) or an application/zip body');
    }
    const parsed = AdaptJobRequestSchema.safeParse(fields);
    if (!parsed.success) throw new ClientError('BAD_REQUEST', parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '));
    const plan = planPairs(files);
    problems.push(...plan.problems);
    if (problems.length) throw new PairsError(`${problems.length} problem${problems.length === 1 ? '' : 's'} with the files`, problems.slice(0, 20));
    const { id, dir } = d.adapt.jobs.newJobDir();
    try {
      const w = await validateAndWritePairs(plan.pairs, path.join(dir, 'pairs'), d.adapt.faceCheck);
      const label = parsed.data.name;
      if (!jobLimiter.take(room)) throw new ClientError('RATE_LIMITED', 'jobs were just started from this room; wait a little');
      return d.adapt.jobs.submit({ id, dir, styleId: d.adapt.styleIdFor(label), label, minutes: parsed.data.minutes, pairs: w.written, skipped: w.skipped, room });
    } catch (err) {
      d.adapt.jobs.discardDir(dir);
      throw err;
    }
  }
}

