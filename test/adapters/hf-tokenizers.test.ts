import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfTokenizers } from '../../src/adapters/hf-tokenizers.js';
import { textPreprocessSchema } from '../../src/core/models/preprocess-config.js';
import { planText } from '../../src/core/preprocess/text-plan.js';
import { BUNDLED_MODELS } from '../helpers/app.js';
import { ECHO_REPOSITORY, reference } from '../helpers/texts.js';

/**
 * The npm binding of Hugging Face's tokenizers against the Python library of the same version
 * (test/fixtures/build_texts.py): every id, mask and type id equal, on a corpus of emojis, CJK, accents,
 * combining marks, RTL text, control characters, empty and over-long texts.
 */
const loader = new HfTokenizers();
const TOPICS = `${BUNDLED_MODELS}topics/1/tokenizer.json`;
const ECHO = `${ECHO_REPOSITORY}token_echo/1/tokenizer.json`;
const tokenInputs = [
  { name: 'input_ids', dtype: 'int64' as const, shape: ['batch', 'sequence'] },
  { name: 'attention_mask', dtype: 'int64' as const, shape: ['batch', 'sequence'] },
  { name: 'token_type_ids', dtype: 'int64' as const, shape: ['batch', 'sequence'] },
];
const planFor = (config: Record<string, unknown>) => planText('text', tokenInputs, textPreprocessSchema.parse(config));

describe('tokenising as the reference tokenizer does', () => {
  it.each([
    ['topics (WordPiece, [PAD])', TOPICS, 128, reference.topics],
    ['token_echo (byte-level BPE, no pad token)', ECHO, 16, reference.token_echo],
  ])('%s: ids, masks and type ids equal Python tokenizers 0.23.2 for every text', async (_name, file, max, want) => {
    const tokenizer = await loader.load(file, planFor({ max_length: max }));
    const got = await tokenizer.encode(reference.texts);
    expect(got).toHaveLength(want.length);
    got.forEach((row, i) => {
      const expected = want[i]!;
      expect({ text: reference.texts[i], ids: row.ids, mask: row.mask, types: row.typeIds }).toEqual({
        text: reference.texts[i],
        ids: expected.ids,
        mask: expected.mask,
        types: expected.type_ids,
      });
      expect([row.tokens, row.truncated]).toEqual([expected.tokens, expected.truncated]);
    });
    expect(want.some((r) => r.truncated)).toBe(true); // the corpus does exercise truncation
  });

  it('without truncation keeps every token (the data plane refuses the long ones), and pads to the longest with padding "longest"', async () => {
    const whole = await loader.load(TOPICS, planFor({ max_length: 128, truncation: false }));
    const long = reference.topics.findIndex((r) => r.truncated);
    const [row] = await whole.encode([reference.texts[long]!]);
    expect(row!.ids).toHaveLength(reference.topics[long]!.tokens);
    expect(row!.truncated).toBe(false);
    const longest = await loader.load(TOPICS, planFor({ max_length: 128, padding: 'longest' }));
    const rows = await longest.encode(['short', 'a somewhat longer text than that']);
    expect(rows[0]!.ids).toHaveLength(rows[1]!.ids.length);
    expect(rows[1]!.mask.every((m) => m === 1)).toBe(true);
    expect(rows[0]!.ids.length).toBeLessThan(128);
  });

  it('fails with why for a missing file and for one that is no tokenizer.json', async () => {
    const plan = planFor({ max_length: 8 });
    await expect(loader.load(join(tmpdir(), 'no-such-tokenizer.json'), plan)).rejects.toThrow(
      /cannot read its tokenizer tokenizer.json: ENOENT/,
    );
    const bad = join(tmpdir(), `bad-tokenizer-${process.pid}.json`);
    writeFileSync(bad, '{"model": {"type": "Nonsense"}}');
    await expect(loader.load(bad, plan)).rejects.toThrow(/is not a Hugging Face tokenizer.json/);
  });
});
