import { isUtf8 } from 'node:buffer';
import { ServiceError } from '../../errors.js';
import { setElement, type TypedArray } from '../tensors/dtypes.js';
import { emptyTensor, type NamedTensors } from '../tensors/tensor.js';
import type { TextPlan, TokenFeed } from './text-plan.js';

/** Texts a client sent instead of token tensors, one per row, with the path each is named by in errors. */
export interface RawTexts {
  texts: string[];
  paths: string[];
}

/** One text as the tokenizer left it: padded and truncated as its plan says. */
export interface TokenizedText {
  ids: number[];
  mask: number[];
  typeIds: number[];
  /** Tokens before truncation, special ones included. */
  tokens: number;
  truncated: boolean;
}

/** A tokenizer loaded for one plan (adapters/hf-tokenizers.ts); it runs off the event loop. */
export interface TextTokenizer {
  encode(texts: string[]): Promise<TokenizedText[]>;
}

/** Loads a plan's tokenizer file when its model version loads; throws with why it cannot. */
export interface TokenizerLoader {
  load(file: string, plan: TextPlan): Promise<TextTokenizer>;
}

/** Told of every text tokenised (its length in tokens, whether it was cut) or refused (the error code). */
export interface TextObserver {
  tokenized?(model: string, tokens: number, truncated: boolean): void;
  refused?(model: string, code: string): void;
}

const utf8 = new TextEncoder();

/** Decodes a text sent as bytes (an OIP BYTES element): strictly UTF-8, else 400 INVALID_TEXT naming it. */
export function textFromBytes(bytes: Uint8Array, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ServiceError('INVALID_TEXT', 'a text that is not valid UTF-8', [
      { path: where, message: `${bytes.length} bytes that are not valid UTF-8` },
    ]);
  }
}

/**
 * A JSON body's text holding U+FFFD, which is what a byte that is not UTF-8 reads as: 400 INVALID_TEXT
 * naming it when the body's bytes are indeed not UTF-8 (a client may send U+FFFD itself).
 */
export function refuseReplaced(text: string, body: Uint8Array | undefined, where: string): string {
  if (text.includes('\uFFFD') && body && !isUtf8(body))
    throw new ServiceError('INVALID_TEXT', 'a body that is not valid UTF-8', [
      { path: where, message: 'bytes that are not UTF-8 were sent in this text (or elsewhere in the body)' },
    ]);
  return text;
}

/** A text field's value: a string of well-formed Unicode (no lone surrogate from a \ud800 escape). */
export function textItem(value: unknown, where: string): string {
  if (typeof value !== 'string')
    throw new ServiceError('INVALID_TEXT', 'a text must be a string', [
      { path: where, message: `expected a string, got ${value === null ? 'null' : typeof value}` },
    ]);
  if (!value.isWellFormed())
    throw new ServiceError('INVALID_TEXT', 'a text holding a lone surrogate, which no UTF-8 can carry', [
      { path: where, message: 'a \\ud800-\\udfff escape without its pair' },
    ]);
  return value;
}

/**
 * Texts into the plan's token tensors: each checked against max_bytes, all tokenised at once, each
 * over max_length refused where truncation is off, then written as rows of the inputs' dtypes.
 */
export async function tensorsFromTexts(
  model: string,
  plan: TextPlan,
  tokenizer: TextTokenizer,
  { texts, paths }: RawTexts,
  observer?: TextObserver,
): Promise<NamedTensors> {
  let encoded: TokenizedText[];
  try {
    texts.forEach((text, i) => {
      const bytes = text.length > plan.maxBytes / 3 ? utf8.encode(text).length : 0;
      if (bytes > plan.maxBytes)
        throw new ServiceError(
          'TEXT_TOO_LONG',
          `a text of ${bytes} UTF-8 bytes; the model takes up to ${plan.maxBytes}`,
          [{ path: paths[i]!, message: `${bytes} bytes, over max_bytes ${plan.maxBytes}` }],
        );
    });
    encoded = await tokenizer.encode(texts);
    const over = plan.truncation ? -1 : encoded.findIndex((e) => e.tokens > plan.maxLength);
    if (over >= 0)
      throw new ServiceError(
        'TEXT_TOO_LONG',
        `a text of ${encoded[over]!.tokens} tokens; the model takes up to ${plan.maxLength} and does not truncate`,
        [{ path: paths[over]!, message: `${encoded[over]!.tokens} tokens, over max_length ${plan.maxLength}` }],
      );
  } catch (err) {
    observer?.refused?.(model, (err as ServiceError).code ?? 'INTERNAL_ERROR');
    throw err;
  }
  for (const e of encoded) observer?.tokenized?.(model, e.tokens, e.truncated);
  const length = plan.padding === 'max_length' ? plan.maxLength : Math.max(1, ...encoded.map((e) => e.ids.length));
  const tensors: NamedTensors = {};
  const fill = (feed: TokenFeed | undefined, pick: (e: TokenizedText) => number[]) => {
    if (!feed) return;
    const tensor = emptyTensor(feed.dtype, [encoded.length, length]);
    const data = tensor.data as TypedArray;
    encoded.forEach((e, row) => {
      const values = pick(e);
      // The tokenizer pads to `length`; zeros (the tensor's own) stand for any it left short
      for (let t = 0; t < Math.min(length, values.length); t++)
        setElement(data, feed.dtype, row * length + t, values[t]!);
    });
    tensors[feed.input] = tensor;
  };
  fill(plan.ids, (e) => e.ids);
  fill(plan.mask, (e) => e.mask);
  fill(plan.typeIds, (e) => e.typeIds);
  return tensors;
}
