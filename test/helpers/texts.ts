import { readFileSync } from 'node:fs';

/** test/fixtures/texts: what build_texts.py wrote with Python's tokenizers. */
export const TEXTS = new URL('../fixtures/texts/', import.meta.url).pathname;
/** A repository of one model, token_echo, that answers the token tensors it was fed. */
export const ECHO_REPOSITORY = `${TEXTS}repository/`;

/** One text as the reference tokenizer padded and truncated it, and its length in tokens before truncation. */
export interface ReferenceRow {
  ids: number[];
  mask: number[];
  type_ids: number[];
  tokens: number;
  truncated: boolean;
}

/** The corpus (emojis, CJK, accents, combining marks, RTL, control characters, empty) and its token ids. */
export const reference = JSON.parse(readFileSync(`${TEXTS}reference.json`, 'utf8')) as {
  texts: string[];
  topics: ReferenceRow[];
  token_echo: ReferenceRow[];
};
