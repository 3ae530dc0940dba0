/**
 * Differential test: this build answers a fixed list of /predict and Open Inference Protocol
 * requests (requests.ts: every bundled and fixture model, JSON and binary, small bodies and bodies
 * large enough for a decode worker, metadata, and refusals) byte for byte as commit a475eaf did,
 * prediction ids aside: status, Content-Type, Inference-Header-Content-Length and body.
 *
 * Why a golden file: CI has a clean clone of main and no build of a475eaf, so a475eaf's answers were
 * recorded once, by its own dist/server.js in its own process, into test/fixtures/answers/a475eaf.json.
 * This test starts this build from source with the same environment (SERVER_ENV) and compares.
 *
 * Re-record when the request list, SERVER_ENV or the models change, always with a475eaf's build (a
 * recording by this build would compare it with itself):
 *   git worktree add /tmp/a475eaf a475eaf && ln -s "$PWD/node_modules" /tmp/a475eaf/node_modules
 *   (cd /tmp/a475eaf && npm run build)
 *   npx tsx scripts/record-answers.ts /tmp/a475eaf/dist/server.js test/fixtures/answers/a475eaf.json
 * Floats come from onnxruntime's kernels, one thread each side; a machine whose CPU takes other
 * kernels may differ in the last bits, and then needs its own recording.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DifferentialServers, GOLDEN_FILE, type Answer, type RecordedAnswers } from './answers.js';
import { MODELS } from './models.js';
import { SERVER_ENV, differentialRequests } from './requests.js';

const recorded = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as RecordedAnswers;
const requests = differentialRequests();

const VERSIONS = 'issue #19, ac06e4a: a version has one spelling on every protocol';
const ONE_PARSER = 'issue #20, 1d35781: OIP bodies go through the one JSON parser /predict uses';
const ROW_CAPS = 'issue #19, a8a5187: the row caps are checked on the rows declared, before any row is decoded';
const NOT_CANONICAL = 'model "iris" has no version "01": not the canonical spelling of version 1';
const NOT_A_VERSION = 'invalid request at version: a version number: a positive integer in decimal digits, as 1, 2, 10';

/**
 * What this build answers on purpose where a475eaf answered otherwise: the answer a475eaf gave to
 * another request (`as`, byte for byte), or a refusal with this status, code and message.
 */
type Now =
  | { as: string }
  | { status: number; code: string; error: string }
  /** The recorded answer's JSON body, edited: what else it says is unchanged. */
  | { edited: (body: Record<string, unknown>) => Record<string, unknown> };

const IMAGES_IN = 'issue #21: the digits model takes PNG images, so its metadata shows its input as BYTES';
const TEXTS_IN = 'issue #21: a text/plain body is one text, for a model that tokenises text (iris takes none)';
const TOPICS_BUNDLED = 'issue #21: the bundled repository has a text classifier, topics, among the models named';
const EXACT_64 = 'issue #23: JSON numbers for INT64 and UINT64 are read exactly, so their range is the whole 64 bits';
/** A MODEL_NOT_FOUND answer whose list of models names topics too. */
const withTopics = (body: Record<string, unknown>) => ({
  ...body,
  details: (body.details as { path: string; message: string }[]).map((d) => ({
    ...d,
    message: `${d.message}, topics`,
  })),
});

/** The digits model's metadata with its input as model.json's image preprocessing shows it. */
const digitsTakesImages = (body: Record<string, unknown>) => {
  const { name, datatype, shape } = (body.inputs as { name: string; datatype: string; shape: number[] }[])[0]!;
  return {
    ...body,
    inputs: [
      { name, datatype: 'BYTES', shape: [-1], parameters: { preprocess: 'image', tensor: { datatype, shape } } },
    ],
  };
};

/** Requests whose answer changed on purpose since a475eaf: each must differ from the recording, and be `now`. */
const INTENTIONAL_CHANGES: Record<string, { why: string; now: Now }> = {
  'errors /predict version "01"': { why: `${VERSIONS} (01 names none)`, now: notFound(NOT_CANONICAL) },
  'errors /predict binary version 01 in the query': {
    why: `${VERSIONS} (01 names none)`,
    now: notFound(NOT_CANONICAL),
  },
  'errors oip version 01': { why: `${VERSIONS}: 01 names none (it served version 1)`, now: notFound(NOT_CANONICAL) },
  'errors oip metadata, version 01': { why: `${VERSIONS} (01 names none)`, now: notFound(NOT_CANONICAL) },
  'errors oip ready, version 01': { why: `${VERSIONS} (01 names none)`, now: notFound(NOT_CANONICAL) },
  'errors oip version 1.0': {
    why: `${VERSIONS}: 1.0 is no version number (it served version 1)`,
    now: { status: 400, code: 'INVALID_REQUEST', error: NOT_A_VERSION },
  },
  'errors /predict version "1.0"': {
    why: `${VERSIONS}: still a 400, whose message now says what a version number is`,
    now: { status: 400, code: 'INVALID_REQUEST', error: NOT_A_VERSION },
  },
  'errors oip bad JSON': {
    why: `${ONE_PARSER}, in its words (it named an inference header the body did not have)`,
    now: { as: 'errors /predict bad JSON' },
  },
  'errors oip large, bad JSON': {
    why: `${ONE_PARSER}, on a decode worker too`,
    now: {
      status: 400,
      code: 'INVALID_JSON',
      error: "the body is not valid JSON: Expected ',' or '}' after property value in JSON at position 5788",
    },
  },
  'errors oip empty body': { why: `${ONE_PARSER}, in its words`, now: { as: 'errors /predict empty body' } },
  'errors oip a __proto__ key': {
    why: `${ONE_PARSER}, which refuses a __proto__ key (it served the request)`,
    now: { as: 'errors /predict a __proto__ key' },
  },
  'errors /predict 10,001 rows, the first one unreadable': {
    why: ROW_CAPS,
    now: { as: 'errors /predict 10,001 rows' },
  },
  'errors /predict binary 10,001 rows declared, one sent': {
    why: ROW_CAPS,
    now: { as: 'errors /predict binary 10,001 rows' },
  },
  'errors oip 10,001 rows, too few values': { why: ROW_CAPS, now: { as: 'errors oip 10,001 rows' } },
  'errors /predict text/plain': {
    why: TEXTS_IN,
    now: {
      status: 400,
      code: 'INVALID_REQUEST',
      error: 'invalid request at query.model: Invalid input: expected string, received undefined',
    },
  },
  ...Object.fromEntries(
    [
      'errors /predict unknown model',
      'errors /predict large, unknown model',
      'errors oip unknown model',
      'errors oip metadata, unknown model',
      'errors oip ready, unknown model',
    ].map((name) => [name, { why: TOPICS_BUNDLED, now: { edited: withTopics } }]),
  ),
  'errors oip UINT64 negative': {
    why: EXACT_64,
    now: {
      status: 400,
      code: 'INVALID_INPUT',
      error: 'invalid input at inputs.in_uint64[0][0]: -1 is outside the range of uint64 (0 to 18446744073709551615)',
    },
  },
  'errors oip binary: 64-bit values past 2^53': {
    why: `${EXACT_64}; the JSON answer writes them in all their digits (equal as doubles, as JSON.parse reads them)`,
    now: { edited: (body) => body },
  },
  'digits oip metadata': { why: IMAGES_IN, now: { edited: digitsTakesImages } },
  'digits oip metadata, version 1': { why: IMAGES_IN, now: { edited: digitsTakesImages } },
};

function notFound(error: string): Now {
  return { status: 404, code: 'VERSION_NOT_FOUND', error };
}

const refusal = (answer: Answer) => {
  const { code, error } = JSON.parse(answer.body ?? '{}') as { code?: string; error?: string };
  return { status: answer.status, code, error };
};

describe('answers byte-identical to a475eaf, prediction ids aside (test/fixtures/answers/a475eaf.json)', () => {
  let servers: DifferentialServers;
  beforeAll(async () => {
    servers = await DifferentialServers.start();
  }, 120_000);
  afterAll(() => servers?.stop());

  it('the recording holds an answer for every request, in order, made with the same environment', () => {
    expect(recorded.recordedWith).toBe('a475eaf');
    expect(recorded.env).toEqual(SERVER_ENV);
    expect(Object.keys(recorded.answers)).toEqual(requests.map((r) => r.name));
    for (const [name, { now }] of Object.entries(INTENTIONAL_CHANGES)) {
      expect(recorded.answers).toHaveProperty([name]);
      if ('as' in now) expect(recorded.answers).toHaveProperty([now.as]);
    }
  });

  it('every model gets bodies decoded on the event loop and on a decode worker', () => {
    for (const model of MODELS) {
      const sent = requests.filter((r) => r.model === model.name && !r.name.startsWith('errors'));
      const routes = model.rows ? (['predict json', 'oip'] as const) : (['oip'] as const);
      for (const route of routes) {
        const offloaded = sent
          .filter((r) => r.route.startsWith(route) && r.offloaded !== undefined)
          .map((r) => r.offloaded);
        expect(new Set(offloaded), `${model.name} ${route}`).toEqual(new Set([true, false]));
      }
    }
  });

  for (const request of requests) {
    const change = INTENTIONAL_CHANGES[request.name];
    if (change === undefined) {
      it(request.name, async () => {
        expect(await servers.send(request)).toEqual(recorded.answers[request.name]);
      });
    } else {
      it(`${request.name}: changed on purpose (${change.why})`, async () => {
        const answer = await servers.send(request);
        expect(answer).not.toEqual(recorded.answers[request.name]);
        if ('as' in change.now) expect(answer).toEqual(recorded.answers[change.now.as]);
        else if ('edited' in change.now) {
          const before = recorded.answers[request.name]!;
          expect(answer.status).toBe(before.status);
          expect(JSON.parse(answer.body!)).toEqual(
            change.now.edited(JSON.parse(before.body!) as Record<string, unknown>),
          );
        } else expect(refusal(answer)).toEqual(change.now);
      });
    }
  }
});
