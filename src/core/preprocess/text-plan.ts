import type { TextPreprocess } from '../models/preprocess-config.js';
import { shapeText, type TensorSpec } from '../models/model-spec.js';
import { dtypes, type DType } from '../tensors/dtypes.js';

/** A model input a text fills, one row of `maxLength` (or the request's longest) tokens per text. */
export interface TokenFeed {
  input: string;
  dtype: DType;
}

/**
 * How a text becomes rows of the model's token inputs, checked against the model when it loads:
 * what the tokenizer (adapters/hf-tokenizers.ts) and the tensor fill need.
 */
export interface TextPlan {
  /** What clients call the text: the key under model.json `preprocess`. */
  name: string;
  /** The tokenizer file as model.json names it, resolved by the registry. */
  tokenizer: string;
  maxLength: number;
  truncation: boolean;
  padding: 'max_length' | 'longest';
  maxBytes: number;
  ids: TokenFeed;
  mask?: TokenFeed;
  typeIds?: TokenFeed;
}

const STANDARD = { ids: 'input_ids', mask: 'attention_mask', type_ids: 'token_type_ids' } as const;

/** model.json `preprocess.<name>.text` checked against the model's inputs; throws, naming the key, on a mismatch. */
export function planText(name: string, inputs: readonly TensorSpec[], config: TextPreprocess): TextPlan {
  const fail = (why: string): never => {
    throw new Error(`model.json preprocess.${name}.text: ${why}`);
  };
  if (inputs.some((i) => i.name === name))
    fail(`"${name}" is a model input; name the text something else (text), the token inputs are found by their names`);
  const feed = (key: keyof typeof STANDARD): TokenFeed | undefined => {
    const named = config.inputs[key];
    const input = inputs.find((i) => i.name === (named ?? STANDARD[key]));
    if (!input) return named === undefined ? undefined : fail(`inputs.${key} names "${named}", not a model input`);
    if (!['int', 'bigint'].includes(dtypes[input.dtype].kind))
      fail(`input "${input.name}" holds ${input.dtype}; token ids and masks need an integer type`);
    if (input.shape.length !== 2) fail(`input "${input.name}" ${shapeText(input.shape)} is not [batch, sequence]`);
    return { input: input.name, dtype: input.dtype };
  };
  const ids =
    feed('ids') ?? fail(`the model has no input "${STANDARD.ids}"; say which input takes the token ids (inputs.ids)`);
  const mask = feed('mask');
  const typeIds = feed('type_ids');
  const fixed = [ids, mask, typeIds].flatMap((f) => {
    const d = f && inputs.find((i) => i.name === f.input)!.shape[1];
    return typeof d === 'number' ? [d] : [];
  });
  if (new Set(fixed).size > 1) fail(`the token inputs fix different lengths (${fixed.join(', ')})`);
  const maxLength =
    config.max_length ?? fixed[0] ?? fail(`say its max_length: input "${ids.input}" leaves the sequence length open`);
  if (fixed[0] !== undefined && fixed[0] !== maxLength)
    fail(`max_length ${maxLength}; the token inputs fix the sequence length at ${fixed[0]}`);
  if (fixed[0] !== undefined && config.padding === 'longest')
    fail(`padding "longest" cannot fill a sequence length fixed at ${fixed[0]}`);
  return {
    name,
    tokenizer: config.tokenizer,
    maxLength,
    truncation: config.truncation,
    padding: config.padding,
    maxBytes: config.max_bytes,
    ids,
    ...(mask && { mask }),
    ...(typeIds && { typeIds }),
  };
}

/** The model inputs a plan fills. */
export function fedInputs(plan: TextPlan): string[] {
  return [plan.ids, plan.mask, plan.typeIds].flatMap((f) => (f ? [f.input] : []));
}
