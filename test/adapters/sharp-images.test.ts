import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SharpImages, sniffImage } from '../../src/adapters/sharp-images.js';
import { imagePreprocessSchema } from '../../src/core/models/preprocess-config.js';
import { planImage } from '../../src/core/preprocess/image-plan.js';
import { declaredPng, IMAGES, imageFile } from '../helpers/images.js';

/**
 * The image decoder (sharp, libvips) against PIL: test/fixtures/build_images.py wrote one picture as PNG,
 * WebP, a 2-frame GIF, JPEG and a JPEG stored turned with EXIF orientation 6, and PIL's preprocessing of each
 * (fill with three filters, contain, cover, gray) as uint8 HWC. Stated tolerance per pixel, in levels of
 * 0-255: mean difference at most 0.5, largest at most 3 (8 for contain, whose row at the padding's edge the two
 * libraries blend differently). Measured: largest 0-3 (7-8 for contain), mean 0.00-0.27.
 */
const manifest = JSON.parse(readFileSync(`${IMAGES}manifest.json`, 'utf8')) as Record<
  string,
  { file: string; case: string; plan: unknown; channels: number }
>;
const decoder = new SharpImages();
/** What a promise rejects with; fails the test when it resolves. */
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected a refusal'),
    (err: unknown) => err,
  );
const planFor = (config: unknown, channels = 3, dtype = 'uint8') =>
  planImage(
    { name: 'x', dtype: dtype as 'uint8', shape: ['batch', 24, 32, channels] },
    imagePreprocessSchema.parse(config),
  );

describe('images decoded as PIL decodes and resizes them', () => {
  it.each(Object.entries(manifest))('%s', async (_ref, { file, case: name, plan, channels }) => {
    const image = await decoder.decode(imageFile(file), planFor(plan, channels), 'image');
    const want = readFileSync(`${IMAGES}${_ref}`);
    expect(image.pixels).toHaveLength(want.length);
    let largest = 0;
    let sum = 0;
    for (let i = 0; i < want.length; i++) {
      const off = Math.abs(want[i]! - image.pixels[i]!);
      largest = Math.max(largest, off);
      sum += off;
    }
    expect(largest).toBeLessThanOrEqual(name.startsWith('contain') ? 8 : 3);
    expect(sum / want.length).toBeLessThanOrEqual(0.5);
    expect(image).toMatchObject({ width: 97, height: 61 }); // its own size, upright or as stored
  });

  it('names the format it found', async () => {
    const plan = planFor({ size: [24, 32] });
    for (const [file, format] of [
      ['picture.png', 'png'],
      ['picture.webp', 'webp'],
      ['picture.gif', 'gif'],
      ['picture.jpg', 'jpeg'],
    ])
      expect((await decoder.decode(imageFile(file!), plan, 'image')).format).toBe(format);
  });
});

describe('what is refused, and how', () => {
  const plan = planFor({ size: [24, 32], max_pixels: 1_000_000 });

  it('refuses bytes that are no JPEG, PNG, WebP or GIF with 415, SVG and TIFF included', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    const tiff = Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]);
    for (const bytes of [Buffer.from('hello'), svg, tiff, Buffer.alloc(0)]) {
      await expect(refusal(decoder.decode(bytes, plan, 'instances[1].image'))).resolves.toMatchObject({
        code: 'NOT_AN_IMAGE',
        statusCode: 415,
        details: [{ path: 'instances[1].image', message: expect.stringMatching(/start as no JPEG, PNG, WebP or GIF/) }],
      });
    }
    expect(sniffImage(svg)).toBeUndefined();
  });

  it('refuses a truncated or corrupt image with 400 and the format it claimed', async () => {
    const png = imageFile('picture.png');
    const jpeg = imageFile('picture.jpg');
    for (const [bytes, format] of [
      [png.subarray(0, png.length / 2), 'png'],
      [jpeg.subarray(0, jpeg.length / 2), 'jpeg'],
      [Buffer.concat([jpeg.subarray(0, 4), Buffer.alloc(200, 7)]), 'jpeg'],
    ] as const) {
      await expect(refusal(decoder.decode(bytes, plan, 'image'))).resolves.toMatchObject({
        code: 'INVALID_IMAGE',
        statusCode: 400,
        message: `a corrupt or truncated ${format} image`,
        details: [{ path: 'image', message: expect.stringMatching(new RegExp(`^${format}: `)) }],
      });
    }
  });

  it('refuses a PNG of a few dozen bytes declaring 30,000 x 30,000 pixels with 413, from its header, before decoding', async () => {
    const bomb = declaredPng(30_000, 30_000);
    expect(bomb.length).toBeLessThan(100);
    // Its one deflate block is empty: had it been decoded, the answer would be INVALID_IMAGE
    await expect(refusal(decoder.decode(bomb, plan, 'body'))).resolves.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      statusCode: 413,
      details: [{ path: 'body', message: '900000000 pixels, over max_pixels 1000000' }],
    });
  });
});
