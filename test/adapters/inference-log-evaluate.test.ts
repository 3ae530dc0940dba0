import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetOf } from '../../src/cli/dataset.js';
import { evaluate, report } from '../../src/cli/evaluate.js';
import { estimateProportion } from '../../src/core/experiments/statistics.js';
import { BUNDLED_MODELS, postJson, startApp } from '../helpers/app.js';

const LABELS = ['setosa', 'versicolor', 'virginica'];

describe('from the inference log to an evaluation (onnx-serve dataset, evaluate)', () => {
  it('rebuilds the labelled rows and scores a version on them: the served version reproduces production', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inference-log-eval-'));
    try {
      const app = await startApp({ INFERENCE_LOG: 'jsonl', INFERENCE_LOG_DIR: dir, CACHE_ENABLED: 'false' });
      let wrong = 0;
      for (let i = 0; i < 24; i++) {
        const row = [4.4 + (i % 12) * 0.3, 2.2 + (i % 7) * 0.3, 1.1 + (i % 11) * 0.5, 0.2 + (i % 9) * 0.25];
        const { body } = await postJson(app, '/predict', { model: 'iris', instances: [row] });
        const { id, predictions } = body as { id: string; predictions: { label: string }[] };
        // Every fourth answer is told wrong: production's accuracy is 18/24
        const told = i % 4 === 3 ? LABELS.find((l) => l !== predictions[0]!.label)! : predictions[0]!.label;
        if (told !== predictions[0]!.label) wrong++;
        expect((await postJson(app, '/feedback', { id, label: told })).status).toBe(200);
      }
      await app.close();
      const rows = await datasetOf({ dir }, { model: 'iris' });
      expect(rows).toHaveLength(24);
      const result = await evaluate(rows, { modelDir: BUNDLED_MODELS, model: 'iris', version: '1' });
      const expected = estimateProportion({ n: 24, correct: 24 - wrong });
      expect(result.kind).toBe('accuracy');
      expect(result.production).toEqual({
        version: '1',
        estimate: 18 / 24,
        interval: [expected.interval.lower, expected.interval.upper],
      });
      expect(result.candidate.estimate).toBe(result.production.estimate);
      expect(result.difference.estimate).toBe(0);
      expect(report(result)).toContain('production (version 1): 0.7500');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
