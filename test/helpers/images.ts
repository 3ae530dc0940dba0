import { readFileSync } from 'node:fs';

export const IMAGES = new URL('../fixtures/images/', import.meta.url).pathname;
export const DIGIT_PNGS = new URL('../../examples/digits/', import.meta.url).pathname;

/** A fixture image's bytes (test/fixtures/images, built by build_images.py). */
export const imageFile = (name: string) => readFileSync(`${IMAGES}${name}`);
/** The PNG of a digit 0-9 the bundled digits model takes (examples/digits, built by models/build_examples.py). */
export const digitPng = (digit: number) => readFileSync(`${DIGIT_PNGS}digit_${digit}.png`);

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/**
 * A PNG of a few dozen bytes whose header declares width x height RGB pixels, and whose data is one
 * empty deflate block: a decompression bomb's shape, which must be refused from its header alone.
 */
export function declaredPng(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter method change, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
