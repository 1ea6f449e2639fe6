import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClientError } from '../errors.js';

/** A JSON answer that no cache keeps. */
export function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  return true;
}

/** The request body, refused with TOO_LARGE (message `tooLarge`) past `max` bytes. */
export async function readBody(req: IncomingMessage, max: number, tooLarge = 'request body too large'): Promise<Buffer> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) {
      // Discard the rest so the client can read our answer; the size was checked up front
      // from Content-Length, so this only runs for clients that lied about it.
      req.resume();
      throw new ClientError('TOO_LARGE', tooLarge);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
