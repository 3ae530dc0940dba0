import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { BUNDLED_MODELS, postJson } from './app.js';

/** A bundled model's model.json without its card (the versions here are other files), with a traffic split. */
export function splitConfig(model: string, variants: { name: string; version: number; weight: number }[]) {
  const config = JSON.parse(readFileSync(`${BUNDLED_MODELS}${model}/model.json`, 'utf8'));
  delete config.card;
  config.traffic = { variants };
  return config;
}

export const IRIS_SPLIT = splitConfig('iris', [
  { name: 'stable', version: 1, weight: 50 },
  { name: 'canary', version: 2, weight: 50 },
  { name: 'next', version: 3, weight: 10 }, // no folder 3: declared, never ready, no traffic
]);
/** Version 1 (iris) answers setosa for this row, version 2 (iris_like.onnx) virginica. */
export const ROW = [5.1, 3.5, 1.4, 0.2];

/** A routing key the split sends to `variant`. */
export function keyFor(app: FastifyInstance, model: string, variant: string): string {
  for (let i = 0; ; i++) if (app.router.route(model, undefined, `user-${i}`).variant === variant) return `user-${i}`;
}

/** One /predict request of `rows` copies of `row` through the split; its answer. */
export async function predictThrough(app: FastifyInstance, model: string, key: string, row: number[], rows: number) {
  const { status, body } = await postJson(
    app,
    '/predict',
    { model, instances: Array.from({ length: rows }, () => row) },
    { 'x-routing-key': key },
  );
  expect(status).toBe(200);
  return body as {
    id: string;
    variant: string;
    version: string;
    predictions: ({ label: string } | { values: number[] })[];
  };
}

/** Labels rows `from`..`to` (exclusive) of a prediction; each must be accepted. */
export async function label(
  app: FastifyInstance,
  id: string,
  from: number,
  to: number,
  labelOf: (row: number) => string | { value: number },
) {
  for (let row = from; row < to; row++) {
    const truth = labelOf(row);
    const response = await postJson(app, '/feedback', {
      id,
      row,
      ...(typeof truth === 'string' ? { label: truth } : truth),
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  }
}

/** |actual − expected| ≤ 1e-9·|expected|: the references below were computed with scipy 1.17.1. */
export const close = (actual: number | null, expected: number) => {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected), `${actual} against ${expected}`).toBeLessThanOrEqual(1e-9 * Math.abs(expected));
};

// Control 80/100 right, candidate 90/100.
// binomtest(80, 100).proportion_ci(method='wilson') and (90, 100); the pooled z by hand:
// p̄ = 170/200 = 0.85, se = √(0.85·0.15·(1/100 + 1/100)) = 0.0504975…, z = 0.1/se = 1.98029…, p = 2·norm.sf(z);
// Fleiss without continuity correction: (1.95996·√(2·0.85·0.15) + 0.84162·√(0.16 + 0.09))² / 0.1² = 198.96 → 199.
export const ACCURACY_REFERENCE = {
  control: { lower: 0.711170834406841, upper: 0.8666330666689674 },
  candidate: { lower: 0.8256343384950865, upper: 0.9447708629393249 },
  difference: { lower: 0.0001490251185575775, upper: 0.19947387007806955 }, // Newcombe's hybrid score interval
  z: 1.9802950859533488,
  p: 0.04767038065616141,
};
