import type SharpModule from 'sharp';
import { imageSize } from 'image-size';
import { ServiceError } from '../errors.js';
import type { ImagePlan } from '../core/preprocess/image-plan.js';
import type { DecodedImage, ImageDecoder } from '../core/preprocess/raw-inputs.js';

/** The formats taken, by their first bytes; anything else is refused before sharp sees it (no SVG, no TIFF). */
export function sniffImage(bytes: Uint8Array): 'jpeg' | 'png' | 'gif' | 'webp' | undefined {
  const at = (i: number, ...values: number[]) => values.every((v, k) => bytes[i + k] === v);
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return undefined;
}

const KERNEL = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos3: 'lanczos3' } as const;

/**
 * Images decoded by sharp (libvips), on libuv's thread pool, never the event loop: EXIF orientation
 * applied, the first frame of a GIF, alpha flattened onto the background, resized as the plan says,
 * to sRGB or gray bytes. The declared size is read from the header (image-size) and held to
 * max_pixels before any pixel is decoded.
 */
export class SharpImages implements ImageDecoder {
  /** Loaded with the first image: a service whose models take none never loads libvips (nor its threads). */
  private library?: Promise<typeof SharpModule>;

  async decode(bytes: Uint8Array, plan: ImagePlan, where: string): Promise<DecodedImage> {
    const sharp = await (this.library ??= import('sharp').then((m) => tuned(m.default)));
    const format = sniffImage(bytes);
    if (!format)
      throw new ServiceError('NOT_AN_IMAGE', 'not an image: JPEG, PNG, WebP or GIF bytes expected', [
        { path: where, message: `${bytes.length} bytes that start as no JPEG, PNG, WebP or GIF file` },
      ]);
    const broken = (err: unknown) =>
      new ServiceError('INVALID_IMAGE', `a corrupt or truncated ${format} image`, [
        { path: where, message: `${format}: ${String((err as Error).message).split('\n')[0]}` },
      ]);
    // The size from the header alone (image-size, a few µs; sharp's metadata() cost 0.4-0.5 ms an image)
    let header: { width?: number; height?: number; orientation?: number };
    try {
      header = imageSize(bytes);
    } catch (err) {
      throw broken(err);
    }
    const storedWidth = header.width ?? 0;
    const storedHeight = header.height ?? 0;
    // EXIF orientations 5-8 turn the image a quarter: its size is reported upright, as it is seen
    const turned = (header.orientation ?? 1) >= 5;
    const [width, height] = turned ? [storedHeight, storedWidth] : [storedWidth, storedHeight];
    if (width * height > plan.maxPixels)
      throw new ServiceError(
        'IMAGE_TOO_LARGE',
        `a ${width}x${height} image; the model takes up to ${plan.maxPixels} pixels`,
        [{ path: where, message: `${width * height} pixels, over max_pixels ${plan.maxPixels}` }],
      );
    const [r, g, b] = plan.background;
    const background = { r, g, b, alpha: 1 };
    // limitInputPixels again, in case the header read above and libvips' disagree
    const pipeline = sharp(bytes, { limitInputPixels: plan.maxPixels, failOn: 'error', pages: 1 })
      .rotate()
      .flatten({ background })
      .resize(plan.width, plan.height, {
        fit: plan.fit,
        position: plan.position,
        background,
        kernel: KERNEL[plan.resample],
        // JPEG's and WebP's shrink-on-load is a cheaper filter than the one asked for: the answers
        // would depend on the format (up to 32 levels off PIL's resize of the same picture)
        fastShrinkOnLoad: false,
      });
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch((err: unknown) => {
        throw broken(err);
      });
    if (info.channels !== 3 || info.width !== plan.width || info.height !== plan.height)
      throw new Error(`sharp gave ${info.width}x${info.height}x${info.channels}, not the plan's sRGB image`);
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
    return { pixels: plan.channels === 'gray' ? luma(rgb) : rgb, format, width: width, height: height };
  }
}

/**
 * libvips' operation cache keeps recent results for a repeat of the same call on the same bytes: requests
 * bring distinct images, so it only costs (~15% of an image's CPU measured, 384x96 JPEG). One libvips
 * thread an image: the images of concurrent requests already fill libuv's pool, and more threads per
 * image on 2 cores only add hand-offs (2.2 ms CPU an image against 3.0-3.6 ms with the defaults).
 */
function tuned(sharp: typeof SharpModule): typeof SharpModule {
  sharp.cache(false);
  sharp.concurrency(1);
  return sharp;
}

/**
 * Gray from sRGB bytes as PIL's convert("L") and OpenCV's cvtColor compute it, the Rec. 601 luma
 * of the gamma-encoded values (libvips' own b-w works in linear light, ~15 levels brighter in the
 * mid-tones): the gray most models were trained on.
 */
function luma(rgb: Uint8Array): Uint8Array {
  const gray = new Uint8Array(rgb.length / 3);
  for (let i = 0, j = 0; i < gray.length; i++, j += 3)
    gray[i] = (rgb[j]! * 19595 + rgb[j + 1]! * 38470 + rgb[j + 2]! * 7471 + 0x8000) >>> 16;
  return gray;
}
