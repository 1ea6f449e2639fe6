import crypto from 'node:crypto';
import { TokenPayloadSchema, type TokenPayload } from '@portrait-edit/shared';

/**
 * Room tokens: base64url(JSON payload) + "." + base64url(HMAC-SHA256). A token is a capability
 * (join room R with role X until exp), like an invite link; the server keeps no session state.
 */
export class RoomTokens {
  constructor(private readonly secret: Buffer) {}

  sign(payload: TokenPayload): string {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** Returns the payload, or throws an Error whose message says what is wrong. */
  verify(token: unknown, nowSeconds = Math.floor(Date.now() / 1000)): TokenPayload {
    if (typeof token !== 'string' || token.length === 0) throw new Error('missing token');
    if (token.length > 2048) throw new Error('token too long');
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) throw new Error('malformed token');
    const body = token.slice(0, dot);
    // Compare the text, not the decoded bytes: base64url decoding ignores the spare low bits of
    // the last character, so several spellings decode to the same MAC. Only the canonical one
    // (what sign() wrote) is the token.
    const sig = Buffer.from(token.slice(dot + 1), 'utf8');
    const expected = Buffer.from(this.mac(body), 'utf8');
    if (sig.length !== expected.length || !crypto.timingSafeEqual(sig, expected)) {
      throw new Error('bad token signature');
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw new Error('malformed token');
    }
    const parsed = TokenPayloadSchema.safeParse(json);
    if (!parsed.success) throw new Error('malformed token payload');
    if (parsed.data.exp <= nowSeconds) throw new Error('token expired');
    return parsed.data;
  }

  private mac(body: string): string {
    return crypto.createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
