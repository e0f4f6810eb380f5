/** A small PNG checker for tests: chunk CRCs, IHDR, and the image data inflated to the size IHDR says. */
import { inflateSync } from 'node:zlib';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Channels per PNG colour type (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA; 3 palette = 1 index). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Decode enough of a PNG to know it is whole: throws on a bad signature,
 * a bad chunk CRC, a missing IHDR/IDAT/IEND, or image data that does not
 * inflate to height × (1 + width × bytes per pixel). 8-bit images only.
 */
export function decodePng(bytes: Uint8Array): { width: number; height: number; colorType: number } {
  if (!SIGNATURE.every((b, i) => bytes[i] === b)) throw new Error('not a PNG (signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  let depth = 0;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (pos < bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    const crc = view.getUint32(pos + 8 + len);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + len)) !== crc) throw new Error(`bad CRC in chunk ${type}`);
    if (type === 'IHDR') {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      depth = bytes[pos + 16] as number;
      colorType = bytes[pos + 17] as number;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') ended = true;
    pos += 12 + len;
  }
  if (!width || !height || !idat.length || !ended) throw new Error('missing IHDR, IDAT or IEND');
  if (depth !== 8) throw new Error(`bit depth ${depth} not handled`);
  const raw = inflateSync(Buffer.concat(idat));
  const expected = height * (1 + width * (CHANNELS[colorType] ?? NaN));
  if (raw.length !== expected) throw new Error(`image data inflates to ${raw.length} bytes, expected ${expected}`);
  return { width, height, colorType };
}
