import { readFileSync } from 'node:fs';
import type { ModelRouter } from '../../src/core/models/model-router.js';
import { bundled, fixture, TempRepository } from './repository.js';

/** A variant as model.json declares it. */
export interface DeclaredVariant {
  name: string;
  version: number | string;
  weight: number;
}

/** iris's model.json without its card (other files serve its versions), with a `traffic` split when given. */
export function irisConfig(variants?: DeclaredVariant[]): Record<string, unknown> {
  const config = JSON.parse(readFileSync(new URL('../../models/iris/model.json', import.meta.url), 'utf8'));
  delete config.card;
  if (variants) config.traffic = { variants };
  return config;
}

/**
 * iris split 50/50: `stable` on version 1 (the bundled iris, answers setosa) and `canary` on version 2
 * (iris_like.onnx, answers virginica).
 */
export function irisSplitRepository(): TempRepository {
  return new TempRepository()
    .addOnnx(
      'iris',
      '1',
      bundled('iris'),
      irisConfig([
        { name: 'stable', version: 1, weight: 50 },
        { name: 'canary', version: 2, weight: 50 },
      ]),
    )
    .addOnnx('iris', '2', fixture('iris_like.onnx'));
}

/** One iris row: version 1 (the bundled iris) answers setosa, iris_like.onnx (other weights) virginica. */
export const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];
export const LABEL_OF_FILE = { iris: 'setosa', iris_like: 'virginica' } as const;

/** What routes requests: the app (its `router`), or a ModelRouter wrapped as `{ router }`. */
export type Routes = { router: Pick<ModelRouter<unknown>, 'route'> };

/** Each variant's share, in points, of `keys` routing keys as the registry routes them now. */
export function sharesOf(app: Routes, model: string, keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) {
    const { variant } = app.router.route(model, undefined, key);
    counts[variant ?? '(none)'] = (counts[variant ?? '(none)'] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, (100 * n) / keys.length]));
}

/** n distinct random routing keys, as user ids would be. */
export const randomKeys = (n: number) =>
  Array.from({ length: n }, (_, i) => `user-${i}-${Math.random().toString(36).slice(2)}`);

/** A routing key the registry sends to this variant now. */
export function keyFor(app: Routes, model: string, variant: string): string {
  for (let i = 0; i < 10_000; i++)
    if (app.router.route(model, undefined, `key-${i}`).variant === variant) return `key-${i}`;
  throw new Error(`no key of 10,000 routes to ${variant}`);
}
