import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import type { DatasetRow } from '../core/inference-log/dataset.js';
import {
  compareMeans,
  compareProportions,
  estimateMean,
  estimateProportion,
  type ErrorSums,
  type Interval,
  type ProportionCounts,
} from '../core/experiments/statistics.js';

/** Rows sent to the candidate per request. */
const BATCH = 256;

/** What production achieved on the labelled rows, what the candidate achieves, and the difference, with intervals. */
export interface Evaluation {
  kind: 'accuracy' | 'mae';
  rows: number;
  production: { version: string; estimate: number; interval: [number, number] };
  candidate: { version: string; estimate: number; interval: [number, number] };
  difference: { estimate: number; interval: [number, number] };
}

/**
 * Runs a model version on a table's labelled rows, in this process (the server's own data plane,
 * no HTTP listener), and scores it beside what production answered for the same rows: accuracy
 * for labels, mean absolute error for values, with the intervals /experiments reports (Wilson for
 * proportions, t for means; core/experiments/statistics.ts).
 */
export async function evaluate(
  rows: DatasetRow[],
  options: { modelDir: string; model: string; version: string },
): Promise<Evaluation> {
  const labelled = rows.filter((r) => r.label !== undefined || r.value !== undefined);
  if (labelled.length === 0) throw new Error('no row has ground truth: POST /feedback gives it');
  const config = loadConfig({
    ...process.env,
    MODEL_DIR: options.modelDir,
    LOG_LEVEL: 'silent',
    CACHE_ENABLED: 'false',
    INFERENCE_LOG: 'off',
    MODEL_POLL_INTERVAL_S: '0',
  });
  const app = await buildApp(config);
  try {
    await app.modelsLoaded;
    const answers: { label?: string; value?: number; values?: number[] }[] = [];
    for (let i = 0; i < labelled.length; i += BATCH) {
      const batch = labelled.slice(i, i + BATCH);
      const response = await app.inject({
        method: 'POST',
        url: '/predict',
        payload: {
          model: options.model,
          version: options.version,
          instances: batch.map((r) => rowOf(r.features)),
        },
      });
      const body = response.json<{ predictions?: { label?: string; value?: number; values?: number[] }[] }>();
      if (response.statusCode !== 200 || !body.predictions)
        throw new Error(`version ${options.version} refused the rows: ${response.body}`);
      answers.push(...body.predictions);
    }
    const productionVersion = [...new Set(labelled.map((r) => r.version))].join(',');
    if (labelled[0]!.label !== undefined) {
      const production: ProportionCounts = { n: labelled.length, correct: labelled.filter((r) => r.correct).length };
      const candidate: ProportionCounts = {
        n: labelled.length,
        correct: labelled.filter((r, i) => answers[i]?.label === r.label).length,
      };
      const [p, c] = [estimateProportion(production), estimateProportion(candidate)];
      const scores = { production: { ...p, estimate: p.rate }, candidate: { ...c, estimate: c.rate } };
      return evaluation('accuracy', labelled.length, [productionVersion, options.version], scores, {
        ...compareProportions(production, candidate),
      });
    }
    const errors = (predicted: (r: DatasetRow, i: number) => number | undefined): ErrorSums => {
      const values = labelled.map((r, i) => Math.abs((predicted(r, i) ?? Number.NaN) - r.value!));
      return { n: values.length, sum: sum(values), sumSquares: sum(values.map((v) => v * v)) };
    };
    const production = errors((r) => (typeof r.prediction === 'number' ? r.prediction : undefined));
    const candidate = errors((_r, i) => answers[i]?.value ?? answers[i]?.values?.[0]);
    const [p, c] = [estimateMean(production), estimateMean(candidate)];
    const scores = { production: { ...p, estimate: p.mean }, candidate: { ...c, estimate: c.mean } };
    return evaluation('mae', labelled.length, [productionVersion, options.version], scores, {
      ...compareMeans(production, candidate),
    });
  } finally {
    await app.close();
  }
}

type Scored = { estimate: number; interval: Interval };

function evaluation(
  kind: Evaluation['kind'],
  rows: number,
  [productionVersion, candidateVersion]: [string, string],
  { production, candidate }: { production: Scored; candidate: Scored },
  difference: { difference: number; interval: Interval },
): Evaluation {
  const range = ({ lower, upper }: Interval): [number, number] => [lower, upper];
  return {
    kind,
    rows,
    production: { version: productionVersion, estimate: production.estimate, interval: range(production.interval) },
    candidate: { version: candidateVersion, estimate: candidate.estimate, interval: range(candidate.interval) },
    difference: { estimate: difference.difference, interval: range(difference.interval) },
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** A table row's features as /predict takes them: by name, or the one input's flat values. */
function rowOf(features: Record<string, unknown>): unknown {
  const values = Object.values(features);
  return values.length === 1 && Array.isArray(values[0]) ? values[0] : features;
}

/** The evaluation as lines an operator reads. */
export function report(e: Evaluation): string {
  const what = e.kind === 'accuracy' ? 'accuracy' : 'mean absolute error';
  const f = (x: number) => x.toFixed(4);
  const range = ([a, b]: [number, number]) => `[${f(a)}, ${f(b)}]`;
  return [
    `${e.rows} rows with ground truth; ${what}, 95% intervals:`,
    `  production (version ${e.production.version}): ${f(e.production.estimate)} ${range(e.production.interval)}`,
    `  candidate (version ${e.candidate.version}): ${f(e.candidate.estimate)} ${range(e.candidate.interval)}`,
    `  candidate - production: ${e.difference.estimate >= 0 ? '+' : ''}${f(e.difference.estimate)} ${range(e.difference.interval)}`,
    '',
  ].join('\n');
}
