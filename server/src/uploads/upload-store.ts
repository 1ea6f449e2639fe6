import crypto from 'node:crypto';
import type { Frame } from '@portrait-edit/models';
import { ClientError } from '../errors.js';

export const UPLOAD_LIMITS = {
  maxBytes: 5 * 1024 * 1024,
  minSide: 64,
  maxSide: 4096,
  maxPixels: 4096 * 4096,
  types: ['image/png', 'image/jpeg', 'image/webp'] as const,
  perRoom: 20,
};

export interface StoredUpload {
  id: string;
  roomId: string;
  /** The reference, decoded and resized to fit 512² (what prompt encoders need). */
  image: Frame;
  sourceWidth: number;
  sourceHeight: number;
  hasFace: boolean;
  bytes: number;
  createdAt: number;
}

/** First bytes of each accepted format: the declared type must match the content. */
function sniff(buf: Buffer): string | null {
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('ascii', 0, 4) === 'RIFF' && buf.toString('ascii', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/**
 * Reference images uploaded for image prompts: validated (declared type, magic bytes, size,
 * dimensions, decodability), decoded once, checked for a face, kept per room in memory.
 * Nothing here reaches a shell or the file system.
 */
export class UploadStore {
  private readonly byId = new Map<string, StoredUpload>();
  private faceCheck: ((img: Frame) => Promise<boolean>) | null = null;

  /** How to tell whether a reference shows a face (the face tracker, loaded lazily). */
  setFaceCheck(f: (img: Frame) => Promise<boolean>): void {
    this.faceCheck = f;
  }

  async add(roomId: string, declaredType: string | undefined, body: Buffer): Promise<StoredUpload> {
    if (body.length === 0) throw new ClientError('BAD_REQUEST', 'empty upload');
    if (body.length > UPLOAD_LIMITS.maxBytes) throw new ClientError('TOO_LARGE', `image is larger than ${UPLOAD_LIMITS.maxBytes / 1024 / 1024} MB`);
    const type = (declaredType ?? '').split(';')[0].trim().toLowerCase();
    if (!(UPLOAD_LIMITS.types as readonly string[]).includes(type)) {
      throw new ClientError('UNSUPPORTED', `unsupported type "${type || 'none'}": send a PNG, JPEG or WebP image`);
    }
    const actual = sniff(body);
    if (actual !== type) throw new ClientError('BAD_REQUEST', `the file is not a ${type.slice(6).toUpperCase()} image${actual ? ` (it looks like ${actual})` : ''}`);

    const { probeImage, readImage, InputError } = await import('@portrait-edit/models');
    const { fitWithin } = await import('@portrait-edit/models/src/image-fit.js');
    let image: Frame;
    let dims: { width: number; height: number };
    try {
      dims = await probeImage(body, { maxSide: UPLOAD_LIMITS.maxSide, maxPixels: UPLOAD_LIMITS.maxPixels });
      if (Math.min(dims.width, dims.height) < UPLOAD_LIMITS.minSide) {
        throw new ClientError('BAD_REQUEST', `image is too small (${dims.width}×${dims.height}); at least ${UPLOAD_LIMITS.minSide} px a side`);
      }
      image = await readImage(await fitWithin(body, 512, UPLOAD_LIMITS.maxPixels), { maxSide: 512 });
    } catch (err) {
      if (err instanceof ClientError) throw err;
      if (err instanceof InputError) throw new ClientError('BAD_REQUEST', err.message);
      throw new ClientError('BAD_REQUEST', 'cannot decode the image');
    }
    const mine = [...this.byId.values()].filter((u) => u.roomId === roomId).sort((a, b) => a.createdAt - b.createdAt);
    while (mine.length >= UPLOAD_LIMITS.perRoom) this.byId.delete(mine.shift()!.id);
    const hasFace = this.faceCheck ? await this.faceCheck(image).catch(() => false) : false;
    const u: StoredUpload = {
      id: crypto.randomBytes(12).toString('base64url'),
      roomId,
      image,
      sourceWidth: dims.width,
      sourceHeight: dims.height,
      hasFace,
      bytes: body.length,
      createdAt: Date.now(),
    };
    this.byId.set(u.id, u);
    return u;
  }

  get(roomId: string, id: string): StoredUpload | undefined {
    const u = this.byId.get(id);
    return u && u.roomId === roomId ? u : undefined;
  }

  dropRoom(roomId: string): void {
    for (const [id, u] of this.byId) if (u.roomId === roomId) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }
}
