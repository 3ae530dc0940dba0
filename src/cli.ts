#!/usr/bin/env node
/**
 * The onnx-serve command (package.json "bin"):
 *   onnx-serve serve [--model-dir DIR] [--port N] [--grpc-port N] [--host H] [--exit-on-error]
 *                                                              run the server (src/server.ts)
 *   onnx-serve check [DIR] [--strict] [--json]                 load a model repository and report it
 *   onnx-serve dataset --model M (--dir D | --redis URL) ...    the inference log as a table
 *   onnx-serve evaluate --model M --version V (--dir D | ...)   a version scored on the logged rows
 * Flags override the environment variables of the same meaning (docs/configuration.md); every
 * other setting is read from the environment as the server reads it.
 */
import { parseArgs } from 'node:util';
import { checkRepository, printReport } from './cli/check-repository.js';
import { packageInfo } from './package-info.js';

const USAGE = `onnx-serve: an ONNX model server (Open Inference Protocol v2, /predict, Prometheus metrics)

Usage:
  onnx-serve serve [--model-dir DIR] [--port N] [--grpc-port N] [--host H] [--exit-on-error]
  onnx-serve check [DIR] [--strict] [--json]
  onnx-serve dataset --model NAME (--dir DIR | --redis URL [--stream KEY]) [--version V] [--from T] [--to T] [--out FILE]
  onnx-serve evaluate --model NAME --candidate V [--model-dir DIR] (--dir DIR | --redis URL [--stream KEY]) [--from T] [--to T]
  onnx-serve --help | --version
`;

const SERVE_HELP = `onnx-serve serve: serve every model in a model repository.

  --model-dir DIR   the repository: <model>/<version>/model.onnx (+ <model>/model.json); env MODEL_DIR, default ./models
  --port N          env PORT, default 8000
  --grpc-port N     the Open Inference Protocol over gRPC; env GRPC_PORT, default 8001, 0: off
  --host H          env HOST, default 0.0.0.0
  --exit-on-error   exit 1 once loading ends if the repository cannot be read, holds no model, or a
                    version failed to load (env EXIT_ON_LOAD_ERROR); by default the rest serve
  -h, --help        this text

Every other setting comes from the environment (REDIS_URL, INFERENCE_WORKERS, ...; see docs/configuration.md).
SIGTERM drains in-flight requests and exits 0.
`;

const CHECK_HELP = `onnx-serve check: load every model of a repository the way the server does, and report.

  DIR          the repository (default: env MODEL_DIR, else ./models)
  --strict     also fail on warnings: skipped entries, a failed warm-up inference
  --json       print the report as JSON (what GET /models answers, plus the verdict)
  -h, --help   this text

For each model version: its state, inputs and outputs, task, features and labels, and
model.json findings. Exit status: 0 when every version can be served, 1 when one cannot (or,
with --strict, when there is a warning), 2 on a usage error.
`;

function fail(message: string): never {
  process.stderr.write(`onnx-serve: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${packageInfo.version}\n`);
    return;
  }
  if (command === 'serve') return serve(rest);
  if (command === 'check') return check(rest);
  if (command === 'dataset') return dataset(rest);
  if (command === 'evaluate') return evaluate(rest);
  fail(`unknown command "${command}"`);
}

/** parseArgs, with a bad flag as a usage error. */
function parse<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    fail((err as Error).message);
  }
}

const help = { type: 'boolean', short: 'h' } as const;

async function serve(args: string[]): Promise<void> {
  const { values } = parse(() =>
    parseArgs({
      args,
      options: {
        help,
        'model-dir': { type: 'string' },
        port: { type: 'string' },
        'grpc-port': { type: 'string' },
        host: { type: 'string' },
        'exit-on-error': { type: 'boolean' },
      },
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return;
  }
  if (typeof values['model-dir'] === 'string') process.env.MODEL_DIR = values['model-dir'];
  if (typeof values.port === 'string') process.env.PORT = values.port;
  if (typeof values['grpc-port'] === 'string') process.env.GRPC_PORT = values['grpc-port'];
  if (typeof values.host === 'string') process.env.HOST = values.host;
  if (values['exit-on-error']) process.env.EXIT_ON_LOAD_ERROR = 'true';
  await import('./server.js'); // reads the config from the environment, listens, handles SIGTERM
}

async function check(args: string[]): Promise<void> {
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      options: { help, strict: { type: 'boolean' }, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(CHECK_HELP);
    return;
  }
  if (positionals.length > 1) fail('check takes one repository');
  const dir = positionals[0] ?? process.env.MODEL_DIR ?? './models';
  const report = await checkRepository(dir, { strict: values.strict === true });
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report, process.stdout);
  process.exitCode = report.ok ? 0 : 1;
}

const DATASET_HELP = `onnx-serve dataset: a training or evaluation table from the inference log (docs/inference-log.md).

  --model NAME     the model whose predictions make the table
  --dir DIR        read a jsonl sink's files (INFERENCE_LOG_DIR)
  --redis URL      or read a Redis stream (INFERENCE_LOG_REDIS_URL) ...
  --stream KEY     ... this one (default onnx-serve:inference-log)
  --version V      only this version's predictions
  --from T, --to T only predictions made in this time range (ISO 8601, inclusive)
  --out FILE       write the table there (default: stdout)
  --format F       jsonl or parquet (default: parquet when --out ends in .parquet, else jsonl)

One JSON line (or Parquet row) per row a request sent: id, row, time, model, version, variant, features (by name
where model.json names them), prediction, and the ground truth POST /feedback gave (label or value,
correct). A summary goes to stderr.
`;

const EVALUATE_HELP = `onnx-serve evaluate: score a model version on the inference log's labelled rows.

  --model NAME      the model
  --candidate V     the version to score, run in this process on the rows production answered
  --model-dir DIR   the model repository (default: MODEL_DIR, or ./models)
  --dir, --redis, --stream, --from, --to, --version: which records, as for onnx-serve dataset

Prints the candidate's accuracy (labels) or mean absolute error (values) beside production's on
the same rows, with the 95% intervals /experiments reports, and their difference.
`;

/** The flags that pick inference log records, shared by dataset and evaluate. */
const RECORD_FLAGS = {
  help,
  model: { type: 'string' },
  dir: { type: 'string' },
  redis: { type: 'string' },
  stream: { type: 'string' },
  version: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
} as const;

type RecordFlags = { [K in Exclude<keyof typeof RECORD_FLAGS, 'help'>]?: string };

/** The table the record flags pick (onnx-serve dataset's rows). */
async function tableOf(command: string, values: RecordFlags) {
  if (!values.model) fail(`${command} needs --model`);
  if ((values.dir === undefined) === (values.redis === undefined))
    fail(`${command} reads --dir or --redis, one of them`);
  const time = (flag: string, value: string) => {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) fail(`--${flag} ${value} is not a time (ISO 8601: 2026-12-06T10:00:00Z)`);
    return ms;
  };
  const { datasetOf } = await import('./cli/dataset.js');
  const source =
    values.dir !== undefined
      ? { dir: values.dir }
      : { redis: values.redis!, stream: values.stream ?? 'onnx-serve:inference-log' };
  return datasetOf(source, {
    model: values.model,
    ...(values.version !== undefined ? { version: values.version } : {}),
    ...(values.from !== undefined ? { from: time('from', values.from) } : {}),
    ...(values.to !== undefined ? { to: time('to', values.to) } : {}),
  });
}

async function dataset(args: string[]): Promise<void> {
  const { values } = parse(() =>
    parseArgs({
      args,
      options: { ...RECORD_FLAGS, out: { type: 'string' }, format: { type: 'string' } },
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(DATASET_HELP);
    return;
  }
  const format = values.format ?? (values.out?.endsWith('.parquet') ? 'parquet' : 'jsonl');
  if (format !== 'jsonl' && format !== 'parquet') fail(`--format ${format}: jsonl or parquet`);
  const rows = await tableOf('dataset', values);
  const { summary, writeRows } = await import('./cli/dataset.js');
  await writeRows(rows, values.out, format);
  process.stderr.write(summary(rows));
}

async function evaluate(args: string[]): Promise<void> {
  const { values } = parse(() =>
    parseArgs({
      args,
      options: { ...RECORD_FLAGS, candidate: { type: 'string' }, 'model-dir': { type: 'string' } },
      strict: true,
    }),
  );
  if (values.help) {
    process.stdout.write(EVALUATE_HELP);
    return;
  }
  if (!values.candidate) fail('evaluate needs --candidate VERSION');
  const rows = await tableOf('evaluate', values);
  const { evaluate: score, report } = await import('./cli/evaluate.js');
  const modelDir = values['model-dir'] ?? process.env.MODEL_DIR ?? './models';
  process.stdout.write(report(await score(rows, { modelDir, model: values.model!, version: values.candidate })));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`onnx-serve: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
