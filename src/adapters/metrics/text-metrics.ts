import { Counter, Histogram, type Registry } from 'prom-client';
import type { TextObserver } from '../../core/preprocess/raw-texts.js';

/** Powers of 2 from 4 to 8192 tokens. */
const TOKEN_BUCKETS = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

/** Texts clients sent to models that tokenise them: lengths in tokens, truncations, and refusals by code. */
export class TextMetrics implements TextObserver {
  private readonly tokens: Histogram<'model'>;
  private readonly truncations: Counter<'model'>;
  private readonly refusals: Counter<'model' | 'code'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.tokens = new Histogram({
      name: 'ml_text_tokens',
      help: "Texts' length in tokens (special ones included), before truncation.",
      labelNames: ['model'] as const,
      buckets: TOKEN_BUCKETS,
      registers,
    });
    this.truncations = new Counter({
      name: 'ml_texts_truncated_total',
      help: "Texts cut to the model's max_length tokens: the model saw only their start.",
      labelNames: ['model'] as const,
      registers,
    });
    this.refusals = new Counter({
      name: 'ml_texts_refused_total',
      help: 'Texts refused, by error code: INVALID_TEXT (not UTF-8), TEXT_TOO_LONG.',
      labelNames: ['model', 'code'] as const,
      registers,
    });
  }

  tokenized(model: string, tokens: number, truncated: boolean): void {
    this.tokens.observe({ model }, tokens);
    if (truncated) this.truncations.inc({ model });
  }

  refused(model: string, code: string): void {
    this.refusals.inc({ model, code });
  }
}
