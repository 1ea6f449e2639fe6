import sharp from 'sharp';

/**
 * Re-encodes an image scaled down (never up) to fit a square of `side`, with EXIF rotation
 * applied. `maxPixels` bounds what sharp will decode at all (decompression bombs).
 */
export async function fitWithin(buf: Buffer, side: number, maxPixels: number): Promise<Buffer> {
  return sharp(buf, { limitInputPixels: maxPixels })
    .rotate()
    .resize(side, side, { fit: 'inside', withoutEnlargement: true })
    .png()
    .toBuffer();
}
