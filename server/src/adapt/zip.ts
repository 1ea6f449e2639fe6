import zlib from 'node:zlib';
import { ClientError } from '../errors.js';

export interface ZipEntry {
  path: string;
  data: Buffer;
}

export interface ZipLimits {
  maxEntries: number;
  /** Largest uncompressed entry; bigger ones are reported, not inflated. */
  maxEntryBytes: number;
  maxTotalBytes: number;
  /** Only entries whose name passes are inflated (the rest are listed as skipped). */
  want: (path: string) => boolean;
}

/**
 * A minimal reader for the zips people make of a folder (stored or deflate entries), from the
 * central directory. Sizes are checked before anything is inflated, and inflation itself is
 * capped (a lying header cannot make a bomb). Zip64, encryption and other methods are refused.
 */
export function readZip(buf: Buffer, lim: ZipLimits): { entries: ZipEntry[]; skipped: string[]; tooLarge: string[] } {
  const bad = (why: string) => new ClientError('BAD_REQUEST', `not a usable zip file: ${why}`);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no central directory');
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw bad('zip64 is not supported');
  if (count > lim.maxEntries) throw new ClientError('TOO_LARGE', `the zip has ${count} entries; at most ${lim.maxEntries}`);
  if (cdOffset + cdSize > buf.length) throw bad('truncated');
  const entries: ZipEntry[] = [];
  const skipped: string[] = [];
  const tooLarge: string[] = [];
  let total = 0;
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw bad('corrupt central directory');
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    const base = name.split('/').pop() ?? '';
    if (name.startsWith('__MACOSX/') || base.startsWith('.')) continue;
    if (!lim.want(name)) {
      skipped.push(name);
      continue;
    }
    if (flags & 1) throw bad(`${name} is encrypted`);
    if (method !== 0 && method !== 8) throw bad(`${name} uses compression method ${method} (only stored and deflate)`);
    if (usize > lim.maxEntryBytes) {
      tooLarge.push(name);
      continue;
    }
    total += usize;
    if (total > lim.maxTotalBytes) throw new ClientError('TOO_LARGE', `the zip holds more than ${lim.maxTotalBytes / 1024 / 1024} MB of images`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) throw bad(`corrupt entry ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + csize > buf.length) throw bad(`truncated entry ${name}`);
    const raw = buf.subarray(start, start + csize);
    let data: Buffer;
    try {
      data = method === 0 ? Buffer.from(raw) : zlib.inflateRawSync(raw, { maxOutputLength: lim.maxEntryBytes });
    } catch {
      throw bad(`cannot inflate ${name}`);
    }
    if (data.length !== usize) throw bad(`${name}: size does not match its header`);
    entries.push({ path: name, data });
  }
  return { entries, skipped, tooLarge };
}
