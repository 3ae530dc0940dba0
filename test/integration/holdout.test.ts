import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFor, BUNDLED_MODELS, postJson } from '../helpers/app.js';
import { modelConfigSchema } from '../../src/core/models/model-config.js';

/** Each bundled model, served through /predict, reproduces the holdout score its model card records. */
const MODELS = ['iris', 'breast_cancer', 'diabetes', 'digits', 'digits_large'];

function read(name: string) {
  const config = modelConfigSchema.parse(JSON.parse(readFileSync(join(BUNDLED_MODELS, name, 'model.json'), 'utf8')));
  const holdout = JSON.parse(readFileSync(join(BUNDLED_MODELS, name, 'holdout.json'), 'utf8')) as {
    rows: number[][];
    targets: (string | number)[];
  };
  return { config, holdout };
}

function r2(truth: number[], predicted: number[]): number {
  const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
  const residual = truth.reduce((s, t, i) => s + (t - predicted[i]!) ** 2, 0);
  const total = truth.reduce((s, t) => s + (t - mean) ** 2, 0);
  return 1 - residual / total;
}

describe('bundled models reproduce their recorded holdout score', () => {
  const app = appFor({});

  it.each(MODELS)('%s', async (name) => {
    const { config, holdout } = read(name);
    const card = config.card!.versions['1']!;
    expect(holdout.rows).toHaveLength(card.holdout_rows!);
    const { status, body } = await postJson(app(), '/predict', { model: name, instances: holdout.rows });
    expect(status).toBe(200);
    let score: number;
    if (config.task === 'classification') {
      const labels = body.predictions.map((p: { label: string }) => p.label);
      score = labels.filter((label: string, i: number) => label === holdout.targets[i]).length / labels.length;
    } else {
      score = r2(
        holdout.targets as number[],
        body.predictions.map((p: { values: number[] }) => p.values[0]!),
      );
    }
    console.log(`${name}: served ${config.card!.metric} ${score.toFixed(4)}, recorded ${card.holdout_score}`);
    expect(score).toBeCloseTo(card.holdout_score!, 3);
    if (config.task === 'classification') expect(score).toBeGreaterThan(0.85);
  });

  it('every model card carries the sha256 of the file it describes', async () => {
    const { models } = (await app().inject('/models')).json();
    for (const name of MODELS) {
      const model = models.find((m: { name: string }) => m.name === name);
      expect(model.versions[0].state).toBe('ready');
      expect(model.versions[0].sha256).toBe(read(name).config.card!.versions['1']!.sha256);
    }
  });
});
