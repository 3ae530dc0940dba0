import { describe, expect, it } from 'vitest';
import { ValueSigner } from '../../../src/core/cache/value-signer.js';
import { modelConfigSchema } from '../../../src/core/models/model-config.js';
import { buildModelSpec, type ModelSpec } from '../../../src/core/models/model-spec.js';
import { FeedbackStore, type SharedKeyValue } from '../../../src/core/monitoring/feedback-store.js';
import { recordMisfit, type PredictionRecord } from '../../../src/core/monitoring/prediction-record.js';
import { newPredictionId } from '../../../src/core/monitoring/prediction-id.js';

const model = (name: string, config: object, output: (string | number)[]): ModelSpec =>
  buildModelSpec(
    { name, version: '1', path: `/${name}`, sha256: 'a'.repeat(64) },
    modelConfigSchema.parse(config),
    {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: output }],
    },
    'strict',
  );
const iris = model('iris', { task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] }, ['batch', 3]);
const diabetes = model('diabetes', { task: 'regression' }, ['batch', 1]);
const raw = model('raw', {}, ['batch', 2]);
const specs: Record<string, ModelSpec> = { iris, diabetes, raw };
const specOf = (name: string, version: string) =>
  version === '1' && Object.hasOwn(specs, name) ? specs[name] : undefined;
const record = (over: Partial<PredictionRecord> = {}): PredictionRecord => ({
  model: 'iris',
  version: '1',
  task: 'classification',
  rows: ['setosa'],
  ...over,
});
const misfit = (r: PredictionRecord) => recordMisfit(r, specOf(r.model, r.version), 100);

describe('recordMisfit', () => {
  it('accepts what a prediction of a loaded model records', () => {
    expect(misfit(record({ rows: ['setosa', 'virginica'] }))).toBeUndefined();
    expect(misfit(record({ model: 'diabetes', task: 'regression', rows: [[151.2], [-3]] }))).toBeUndefined();
    expect(misfit(record({ model: 'raw', task: 'raw', rows: [[], []] }))).toBeUndefined();
  });

  it.each([
    ['a model not loaded', record({ model: 'evil-model-1' }), 'model version not loaded here'],
    ['__proto__ as the model', record({ model: '__proto__' }), 'model version not loaded here'],
    ['a version not loaded', record({ version: '999' }), 'model version not loaded here'],
    ['another task', record({ task: 'regression', rows: [[1]] }), 'not the task of the model'],
    ['no rows', record({ rows: [] }), 'not 1 to 100 rows'],
    ['more rows than a request may have', record({ rows: new Array(101).fill('setosa') }), 'not 1 to 100 rows'],
    ['an empty row for a classifier', record({ rows: [[]] }), 'a row that is not a label of the model'],
    ['a label the model does not have', record({ rows: ['rose'] }), 'a row that is not a label of the model'],
    ['__proto__ as a label', record({ rows: ['__proto__'] }), 'a row that is not a label of the model'],
    [
      'an empty row for a regressor',
      record({ model: 'diabetes', task: 'regression', rows: [[]] }),
      'a row that is not 1 value(s)',
    ],
    [
      'a label for a regressor',
      record({ model: 'diabetes', task: 'regression', rows: ['setosa'] }),
      'a row that is not 1 value(s)',
    ],
    [
      'values for a raw model',
      record({ model: 'raw', task: 'raw', rows: [[1, 2]] }),
      'a row with values for a raw model',
    ],
  ])('refuses %s', (_name, r, why) => {
    expect(misfit(r)).toBe(why);
  });
});

describe('FeedbackStore with Redis', () => {
  const signer = new ValueSigner(Buffer.from('a test key of at least thirty-two characters'));
  const forger = new ValueSigner(Buffer.from('a forger key of at least thirty-two characters'));

  function storeWith(values: Map<string, string>) {
    const refused: string[] = [];
    const kv: SharedKeyValue = {
      get: async (key) => values.get(key) ?? null,
      set: (key, value) => values.set(key, value),
      claim: async () => true,
    };
    const store = new FeedbackStore(
      { maxEntries: 10, ttlSeconds: 60, maxRows: 100 },
      { store: kv, signer, specOf, refused: (why) => refused.push(why) },
    );
    return { store, refused };
  }

  it('recalls a record another replica wrote, signed, and refuses planted, forged or misfit ones as unknown ids, saying why', async () => {
    const redis = new Map<string, string>();
    const writer = storeWith(redis).store;
    const id = newPredictionId();
    writer.remember(id, record());
    expect(JSON.parse(redis.get(`feedback:${id}`)!)).toMatchObject({ v: 2, model: 'iris' });

    const plant = (r: object, by = signer) => {
      const planted = newPredictionId();
      redis.set(`feedback:${planted}`, by.sign(`feedback:${planted}`, 2, r));
      return planted;
    };
    const unsigned = newPredictionId();
    redis.set(
      `feedback:${unsigned}`,
      JSON.stringify({ model: 'evil-model-1', version: '1', task: 'classification', rows: ['x'] }),
    );
    const moved = newPredictionId();
    redis.set(`feedback:${moved}`, redis.get(`feedback:${id}`)!);
    const oldVersion = newPredictionId();
    redis.set(`feedback:${oldVersion}`, signer.sign(`feedback:${oldVersion}`, 1, record()));

    const { store: reader, refused } = storeWith(redis);
    expect(await reader.recall(id)).toEqual(record());
    for (const planted of [
      unsigned,
      moved,
      plant(record(), forger),
      plant(record({ model: 'evil-model-1' })),
      plant(record({ rows: [[]] })),
      plant({ rows: 'x' }),
      oldVersion,
    ]) {
      expect(await reader.recall(planted)).toBe('unknown');
    }
    expect(refused).toEqual([
      'not a prediction record',
      'signature does not match',
      'signature does not match',
      'model version not loaded here',
      'a row that is not a label of the model',
      'not a prediction record',
    ]);
  });
});
