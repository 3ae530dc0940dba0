import { Counter, Histogram, type Registry } from 'prom-client';
import type { DecodedImage, ImageObserver } from '../../core/preprocess/raw-inputs.js';

/** Powers of 4 from 64 pixels (8x8) to 67 M (8192x8192): an image's own size, before resizing. */
const PIXEL_BUCKETS = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864];

/** Images clients sent to models that preprocess them: formats, sizes, and refusals by code. */
export class ImageMetrics implements ImageObserver {
  private readonly formats: Counter<'model' | 'format'>;
  private readonly pixels: Histogram<'model'>;
  private readonly refusals: Counter<'model' | 'code'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.formats = new Counter({
      name: 'ml_images_decoded_total',
      help: 'Images decoded for models that preprocess them, by format (jpeg, png, webp, gif).',
      labelNames: ['model', 'format'] as const,
      registers,
    });
    this.pixels = new Histogram({
      name: 'ml_image_pixels',
      help: "Decoded images' own size in pixels (width x height), before resizing.",
      labelNames: ['model'] as const,
      buckets: PIXEL_BUCKETS,
      registers,
    });
    this.refusals = new Counter({
      name: 'ml_images_refused_total',
      help: 'Images refused, by error code: NOT_AN_IMAGE, INVALID_IMAGE (corrupt or truncated), IMAGE_TOO_LARGE.',
      labelNames: ['model', 'code'] as const,
      registers,
    });
  }

  decoded(model: string, image: DecodedImage): void {
    this.formats.inc({ model, format: image.format });
    this.pixels.observe({ model }, image.width * image.height);
  }

  refused(model: string, code: string): void {
    this.refusals.inc({ model, code });
  }
}
