import { describe, expect, it } from 'vitest';
import { preprocessSchema, textPreprocessSchema } from '../../../src/core/models/preprocess-config.js';
import type { TensorSpec } from '../../../src/core/models/model-spec.js';
import { fedInputs, planText } from '../../../src/core/preprocess/text-plan.js';

const ids: TensorSpec = { name: 'input_ids', dtype: 'int64', shape: ['batch', 'sequence'] };
const mask: TensorSpec = { name: 'attention_mask', dtype: 'int32', shape: ['batch', 'sequence'] };
const types: TensorSpec = { name: 'token_type_ids', dtype: 'int64', shape: ['batch', 'sequence'] };
const plan = (inputs: TensorSpec[], config: Record<string, unknown> = {}) =>
  planText('text', inputs, textPreprocessSchema.parse(config));

describe('a text plan checked against the model when it loads', () => {
  it('finds the token inputs by their standard names, and takes max_length from model.json or a fixed dim', () => {
    const p = plan([ids, mask, types], { max_length: 64 });
    expect(p).toMatchObject({
      name: 'text',
      tokenizer: 'tokenizer.json',
      maxLength: 64,
      truncation: true,
      padding: 'max_length',
      ids: { input: 'input_ids', dtype: 'int64' },
      mask: { input: 'attention_mask', dtype: 'int32' },
      typeIds: { input: 'token_type_ids', dtype: 'int64' },
    });
    expect(fedInputs(p)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    const fixed = plan([
      { ...ids, shape: ['batch', 32] },
      { ...mask, shape: ['batch', 32] },
    ]);
    expect([fixed.maxLength, fixed.typeIds]).toEqual([32, undefined]);
    const renamed = plan([{ ...ids, name: 'tokens' }], { max_length: 8, inputs: { ids: 'tokens' } });
    expect(fedInputs(renamed)).toEqual(['tokens']);
  });

  it.each([
    ['the text named as a model input', [ids, { ...mask, name: 'text' }], { max_length: 8 }, /"text" is a model input/],
    ['no input_ids', [mask], { max_length: 8 }, /no input "input_ids"; say which input takes the token ids/],
    ['inputs naming no input', [ids], { max_length: 8, inputs: { mask: 'nope' } }, /inputs.mask names "nope"/],
    ['float token ids', [{ ...ids, dtype: 'float32' }], { max_length: 8 }, /holds float32; .* integer type/],
    ['ids of rank 3', [{ ...ids, shape: ['batch', 'sequence', 2] }], { max_length: 8 }, /is not \[batch, sequence\]/],
    ['no max_length for an open length', [ids], {}, /say its max_length/],
    [
      'max_length against a fixed dim',
      [{ ...ids, shape: ['batch', 16] }],
      { max_length: 8 },
      /fix the sequence length at 16/,
    ],
    [
      'different fixed lengths',
      [
        { ...ids, shape: ['batch', 16] },
        { ...mask, shape: ['batch', 8] },
      ],
      {},
      /fix different lengths \(16, 8\)/,
    ],
    ['padding longest for a fixed length', [{ ...ids, shape: ['batch', 16] }], { padding: 'longest' }, /cannot fill/],
  ])('refuses %s, naming the key', (_case, inputs, config, why) => {
    expect(() => plan(inputs as TensorSpec[], config)).toThrow(/^model.json preprocess.text.text: /);
    expect(() => plan(inputs as TensorSpec[], config)).toThrow(why);
  });

  it('model.json refuses a tokenizer path out of the model folder and a key that is neither image nor text', () => {
    for (const tokenizer of ['../other/tokenizer.json', '/etc/passwd', 'a/../../b.json'])
      expect(textPreprocessSchema.safeParse({ tokenizer }).success).toBe(false);
    expect(textPreprocessSchema.safeParse({ tokenizer: 'tok/tokenizer.json' }).success).toBe(true);
    expect(preprocessSchema.safeParse({ text: { audio: {} } }).success).toBe(false);
    expect(preprocessSchema.safeParse({ text: { text: {} }, x: { image: {} } }).success).toBe(true);
  });
});
