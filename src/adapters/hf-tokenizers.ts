import { readFile } from 'node:fs/promises';
import type { Tokenizer as HfTokenizer } from 'tokenizers';
import type { TextTokenizer, TokenizedText, TokenizerLoader } from '../core/preprocess/raw-texts.js';
import type { TextPlan } from '../core/preprocess/text-plan.js';

type Encoding = Awaited<ReturnType<HfTokenizer['encodeBatch']>>[number];

/** Pad tokens of common vocabularies, looked up when tokenizer.json sets no padding of its own. */
const PAD_TOKENS = ['[PAD]', '<pad>', '<|pad|>', '<|padding|>'];

/** Tokens an encoding holds, special ones included, padding not. */
function unpadded(encoding: Encoding): number {
  return encoding.getAttentionMask().reduce((sum, m) => sum + m, 0);
}

/**
 * Hugging Face's own tokenizers (the `tokenizers` npm package: the Rust library through N-API), so
 * a tokenizer.json splits text here exactly as it did in training. encodeBatch runs on libuv's
 * threads, off the event loop. Loaded lazily: a service without text models never opens the binding.
 */
export class HfTokenizers implements TokenizerLoader {
  async load(file: string, plan: TextPlan): Promise<TextTokenizer> {
    const json = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot read its tokenizer ${plan.tokenizer}: ${err.code ?? err.message}`);
    });
    const { Tokenizer } = await import('tokenizers');
    let tokenizer: HfTokenizer;
    let declared: { pad_id?: number; pad_token?: string } | null | undefined;
    try {
      declared = (JSON.parse(json) as { padding?: { pad_id?: number; pad_token?: string } | null }).padding;
      tokenizer = Tokenizer.fromString(json);
    } catch (err) {
      throw new Error(
        `its tokenizer ${plan.tokenizer} is not a Hugging Face tokenizer.json: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const padToken = declared?.pad_token ?? PAD_TOKENS.find((t) => tokenizer.tokenToId(t) !== null);
    // A vocabulary without a pad token (GPT-2's): the mask hides the padding, so any id does
    const padId = declared?.pad_id ?? (padToken !== undefined ? tokenizer.tokenToId(padToken) : null) ?? 0;
    // Without truncation a long text keeps every token: the data plane refuses it past max_length
    if (plan.truncation) tokenizer.setTruncation(plan.maxLength);
    else tokenizer.disableTruncation();
    tokenizer.setPadding({
      ...(plan.padding === 'max_length' && { maxLength: plan.maxLength }),
      padId,
      ...(padToken !== undefined && { padToken }),
    });
    // Counts the tokens of the texts truncation cut (for ml_text_tokens): the library's own settings
    // are per instance, and encodes run concurrently, so this is a second one without truncation
    const counter = plan.truncation ? Tokenizer.fromString(json) : undefined;
    counter?.disableTruncation();
    counter?.disablePadding();
    return {
      async encode(texts: string[]): Promise<TokenizedText[]> {
        const encodings = await tokenizer.encodeBatch(texts);
        const rows = encodings.map((e) => ({
          ids: e.getIds(),
          mask: e.getAttentionMask(),
          typeIds: e.getTypeIds(),
          tokens: unpadded(e),
          truncated: e.getOverflowing().length > 0,
        }));
        const cut = rows.flatMap((row, i) => (row.truncated ? [i] : []));
        if (counter && cut.length > 0) {
          const whole = await counter.encodeBatch(cut.map((i) => texts[i]!));
          cut.forEach((i, k) => (rows[i]!.tokens = whole[k]!.getIds().length));
        }
        return rows;
      },
    };
  }
}
