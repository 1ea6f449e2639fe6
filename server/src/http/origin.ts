import type { IncomingMessage } from 'node:http';
import type { ServerConfig } from '../config.js';

/**
 * Whether a browser request's Origin may talk to us. Requests without an Origin header (not
 * from a browser page: curl, the bench's Node clients) are not cross-site requests and pass;
 * a page's requests carry its origin, which must be listed — or, by default, be this very
 * host (the app is served from here), so another site cannot drive the API from a visitor's
 * browser.
 */
export function originAllowed(cfg: Pick<ServerConfig, 'allowedOrigins'>, req: Pick<IncomingMessage, 'headers'>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || cfg.allowedOrigins === '*') return true;
  if (Array.isArray(cfg.allowedOrigins)) return cfg.allowedOrigins.includes(origin);
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
  return host !== '' && host === req.headers.host;
}

/** CORS response headers for an allowed cross-origin caller (none for same-origin or refused). */
export function corsHeaders(cfg: Pick<ServerConfig, 'allowedOrigins'>, req: Pick<IncomingMessage, 'headers'>): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || cfg.allowedOrigins === 'same-origin' || !originAllowed(cfg, req)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST',
    'access-control-allow-headers': 'content-type, authorization',
    'access-control-max-age': '600',
    vary: 'Origin',
  };
}
