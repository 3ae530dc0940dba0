import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { buildRequest, type Datatype } from '../helpers/oip-client.js';

/** What the fuzzer knows of the served models (from GET /models), so it can be wrong in the right places. */
export interface ModelFacts {
  name: string;
  inputs: { name: string; shape: (number | string)[] }[];
  features: { name: string; min?: number; max?: number }[];
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const DATATYPES: Datatype[] = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

/** A value `levels` arrays deep, built without recursion. */
const deep = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
};

/** Values a careless or hostile client puts where a number belongs. */
export const nasty: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  fc.double(), // NaN and ±Infinity become null in JSON
  fc.integer(),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -(2 ** 63), 5e-324, 0, -0, 65504, 65520, 4294967296),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' 5.1 ', '5.1', '١٢', 'true'),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.integer({ min: 1, max: 300 }).map(deep),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

/** A row: a flat or nested array of mostly plausible numbers, or an object of features. */
const row = (facts: ModelFacts[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.array(nasty, { maxLength: 70 }),
    fc.array(fc.array(fc.double({ min: 0, max: 16, noNaN: true }), { minLength: 0, maxLength: 9 }), { maxLength: 9 }),
    fc.constantFrom(...facts.filter((m) => m.features.length > 0)).chain(featureRow),
    nasty,
  );

/** A feature's value: mostly within its model.json range (so some rows are served), sometimes anything. */
const featureValue = ({ min = 0, max = 20 }: ModelFacts['features'][number]) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.double({ min, max, noNaN: true }) },
    fc.double({ min: min - 5, max: max + 5, noNaN: true }),
    nasty,
  );

/** Named features: the model's own names, mostly plausible values, now and then one missing or invented. */
const featureRow = (model: ModelFacts) =>
  fc
    .tuple(
      // half the rows clean (every value in range: a 30-feature row would almost never be otherwise), half noisy
      fc.oneof(
        fc.tuple(...model.features.map(({ min = 0, max = 20 }) => fc.double({ min, max, noNaN: true }))),
        fc.tuple(...model.features.map(featureValue)),
      ),
      rarely(fc.constantFrom(...model.features.map((f) => f.name))),
      rarely(fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 10 }), nasty, { minKeys: 1, maxKeys: 2 })),
    )
    .map(([values, dropped, extra]) => ({
      ...Object.fromEntries(model.features.map((f, i) => [f.name, values[i]]).filter(([name]) => name !== dropped)),
      ...extra,
    }));

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
/** undefined six times in seven: a mistake now and then, so most requests stay close to valid. */
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
/** The valid value four times in five. */
const mostly = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: other });
const modelName = (facts: ModelFacts[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...facts.map((m) => m.name)) },
    fc.string({ unit: 'grapheme', maxLength: 20 }),
  );

/** POST /predict: envelopes that are mostly right in shape and wrong in values, dtypes, sizes and nesting. */
export const predictBodies = (facts: ModelFacts[]): fc.Arbitrary<string> => {
  const withFeatures = facts.filter((m) => m.features.length > 0);
  // the model and its own features together, so a fair share of requests is served
  const features = fc.constantFrom(...withFeatures).chain((m) =>
    fc.record({
      model: fc.oneof({ weight: 8, arbitrary: fc.constant<unknown>(m.name) }, modelName(facts), nasty),
      features: fc.oneof({ weight: 8, arbitrary: featureRow(m) }, nasty),
    }),
  );
  const instances = fc.constantFrom(...withFeatures).chain((m) =>
    fc.record({
      model: fc.oneof({ weight: 8, arbitrary: fc.constant<unknown>(m.name) }, modelName(facts)),
      instances: fc.oneof(
        {
          weight: 8,
          arbitrary: fc.array(fc.oneof({ weight: 3, arbitrary: featureRow(m) }, row(facts)), { maxLength: 6 }),
        },
        nasty,
      ),
    }),
  );
  const both = fc.record(
    { model: modelName(facts), features: nasty, instances: fc.array(row(facts), { maxLength: 3 }) },
    { requiredKeys: [] },
  );
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: features }, { weight: 4, arbitrary: instances }, both),
      fc.record(
        {
          version: mostly(
            fc.constantFrom('1', 1),
            fc.oneof(fc.constantFrom('2', '999999999', -1, 1.5), versionSpellings, nasty),
          ),
          validation: mostly(fc.constantFrom('strict', 'permissive'), nasty),
          // a deadline a loaded machine meets, or one that is not a deadline: never a legitimate 504
          timeout_ms: mostly(
            fc.integer({ min: 20_000, max: 600_000 }),
            fc.constantFrom(0, -1, 1.5, 600_001, '100', null),
          ),
        },
        { requiredKeys: [] },
      ),
      rarely(fc.dictionary(fc.string({ maxLength: 8 }), nasty, { minKeys: 1, maxKeys: 2 })),
    )
    .map(([rows, options, extra]) => JSON.stringify({ ...rows, ...options, ...extra }));
};

/**
 * Versions as clients misspell version 1 (and name others): leading zeros, decimals, signs,
 * exponents, hex, blanks, non-ASCII digits, numbers past 2^53, any short text. Only `1` names it.
 */
export const versionSpellings: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '1',
    '01',
    '00',
    '0',
    '1.0',
    '0x1',
    ' 1',
    '1 ',
    '+1',
    '1e0',
    '-0',
    '０１',
    '١',
    '12345678901234567890',
    '9007199254740993',
  ),
  fc
    .tuple(
      fc.constantFrom('', '0', '00', '+', '-', ' ', '\t', '０'),
      fc.constantFrom('1', '2', '10'),
      fc.constantFrom('', '.0', 'e0', ' ', '\n', '0'),
    )
    .map((parts) => parts.join('')),
  fc.stringMatching(/^[0-9]{1,25}$/),
  // dot segments (`.`, `..`) are left out: in a URL they are a path's, not a version's
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((v) => v !== '.' && v !== '..'),
);

/**
 * /predict bodies past MAX_REQUEST_ROWS (10,000 by default): a few generated rows first, then bare
 * numbers. Refused on their length, whatever the rows hold: 413 TOO_MANY_ROWS, never a 400 about a row.
 */
export const oversizedPredict = (facts: ModelFacts[]): fc.Arbitrary<string> =>
  fc
    .record({
      model: fc.constantFrom(...facts.map((m) => m.name)),
      first: fc.array(row(facts), { minLength: 1, maxLength: 3 }),
      extra: fc.integer({ min: 1, max: 50 }),
    })
    .map(({ model, first, extra }) =>
      JSON.stringify({ model, instances: [...first, ...Array<number>(10_000 + extra).fill(1)] }),
    )
    // Within the fuzz app's BODY_LIMIT_BYTES and MAX_JSON_DEPTH, which refuse the body first
    .filter((body) => body.length < 200_000 && nesting(body) < 64);

/** How deep JSON text nests (brackets inside strings count too: an overestimate, which only filters more). */
function nesting(json: string): number {
  let depth = 0;
  let deepest = 0;
  for (const c of json) {
    if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return deepest;
}

const oipInput = (facts: ModelFacts[]) =>
  fc.record(
    {
      name: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...facts.flatMap((m) => m.inputs.map((i) => i.name))) },
        fc.string({ maxLength: 10 }),
      ),
      shape: fc.oneof(
        { weight: 4, arbitrary: fc.array(fc.integer({ min: -1, max: 70 }), { maxLength: 5 }) },
        fc.array(fc.constantFrom(0, 2 ** 31, 1e9, 1.5, -5), { maxLength: 4 }),
        nasty,
      ),
      datatype: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...DATATYPES) },
        fc.constantFrom('FP8', 'fp32', 'FLOAT', ''),
        nasty,
      ),
      data: fc.oneof(
        fc.array(nasty, { maxLength: 70 }),
        fc.array(fc.array(nasty, { maxLength: 8 }), { maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 16, noNaN: true }), { minLength: 4, maxLength: 64 }),
        nasty,
      ),
      parameters: optional(fc.record({ binary_data_size: nasty }, { requiredKeys: [] })),
    },
    { requiredKeys: ['name', 'shape', 'datatype'] },
  );

/** A served-looking OIP input for a model with named features: n rows of in-range values, flat or nested. */
const plausibleInput = (model: ModelFacts) =>
  fc.array(featureRow(model), { minLength: 1, maxLength: 4 }).chain((rows) => {
    const values = rows.map((r) => model.features.map((f) => r[f.name] ?? 0));
    return fc.record({
      name: fc.constant(model.inputs[0]!.name),
      shape: fc.constant([rows.length, model.features.length]),
      datatype: mostly(fc.constant('FP32'), fc.constantFrom(...DATATYPES)),
      data: fc.constantFrom<unknown>(values, values.flat()),
    });
  });

/** OIP JSON bodies: valid envelopes with wrong datatypes, shapes, data, outputs and parameters. */
export const inferBodies = (facts: ModelFacts[]): fc.Arbitrary<readonly [string, string]> =>
  fc.oneof(
    fc
      .constantFrom(...facts.filter((m) => m.features.length > 0))
      .chain((m) =>
        fc.record({ inputs: fc.tuple(plausibleInput(m)) }).map((body) => [m.name, JSON.stringify(body)] as const),
      ),
    fc.tuple(
      fc.oneof(
        fc.constantFrom(...facts.map((m) => m.name)),
        fc.constantFrom('nope', 'iris/versions/1', 'iris/versions/7'),
        versionSpellings.map((v) => `iris/versions/${encodeURIComponent(v)}`),
      ),
      anyInferBody(facts),
    ),
  );

const anyInferBody = (facts: ModelFacts[]): fc.Arbitrary<string> =>
  fc
    .record(
      {
        id: optional(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), nasty)),
        parameters: optional(
          fc.record(
            {
              binary_data_output: fc.oneof(fc.boolean(), nasty),
              timeout: fc.oneof(
                fc.integer({ min: 20_000_000, max: 600_000_000 }),
                fc.constantFrom(0, -1, 1.5, 600_000_001),
              ),
              validation: fc.oneof(fc.constantFrom('strict', 'permissive'), nasty),
              other: nasty,
            },
            { requiredKeys: [] },
          ),
        ),
        inputs: fc.oneof({ weight: 5, arbitrary: fc.array(oipInput(facts), { minLength: 1, maxLength: 4 }) }, nasty),
        outputs: optional(
          fc.array(
            fc.record(
              {
                name: fc.oneof(
                  fc.constantFrom('probabilities', 'label', 'variable', 'output'),
                  fc.string({ maxLength: 8 }),
                ),
                parameters: fc.record(
                  {
                    classification: fc.oneof(fc.integer({ min: -2, max: 70_000 }), nasty),
                    binary_data: fc.oneof(fc.boolean(), nasty),
                  },
                  { requiredKeys: [] },
                ),
              },
              { requiredKeys: ['name'] },
            ),
            { maxLength: 3 },
          ),
        ),
      },
      { requiredKeys: ['inputs'] },
    )
    .map((body) => JSON.stringify(body));

/**
 * Binary OIP bodies built by the spec's client for iris, then damaged: header length, sizes,
 * truncation, extra bytes.
 */
export const binaryInfer: fc.Arbitrary<FuzzRequest> = fc
  .record({
    rows: fc.integer({ min: 1, max: 8 }),
    datatype: fc.constantFrom<Datatype>('FP32', 'FP32', 'FP64', 'INT64', 'BYTES', 'BOOL', 'FP16'),
    shapeFudge: fc.constantFrom(0, 0, 1, -1),
    headerLength: fc.oneof(
      { weight: 3, arbitrary: fc.constant<number | string>('right') },
      fc.integer({ min: 0, max: 2000 }),
      fc.constantFrom('-1', 'abc', '1e3', '', '99999999999', '12, 13'),
    ),
    cut: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 40 })),
    extra: fc.uint8Array({ maxLength: 40 }),
    values: fc.array(fc.double({ min: 4, max: 7, noNaN: true }), { minLength: 32, maxLength: 32 }),
  })
  .map(({ rows, datatype, shapeFudge, headerLength, cut, extra, values }) => {
    const data = values.slice(0, rows * 4);
    const tensor =
      datatype === 'BYTES'
        ? data.map(String)
        : datatype === 'BOOL'
          ? data.map((v) => v > 5.5)
          : datatype === 'INT64'
            ? data.map(Math.round)
            : data;
    const { body, headerLength: length } = buildRequest([
      { name: 'input', datatype, shape: [rows, 4 + shapeFudge], data: tensor },
    ]);
    const payload = Buffer.concat([body.subarray(0, body.length - cut), Buffer.from(extra)]);
    return {
      method: 'POST',
      url: '/v2/models/iris/infer',
      headers: { 'inference-header-content-length': headerLength === 'right' ? String(length) : String(headerLength) },
      payload,
    };
  });

const IRIS = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const validBodies: [string, string][] = [
  ['/predict', JSON.stringify({ model: 'iris', features: IRIS })],
  ['/feedback', JSON.stringify({ id: 'no-such-id', label: 'setosa' })],
  [
    '/v2/models/iris/infer',
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
  ],
];

/** Good bodies under every kind of Content-Type, charset and Content-Encoding, encoded as declared or not. */
export const headerRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    target: fc.constantFrom(...validBodies),
    type: fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/octet-stream',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'APPLICATION/JSON',
        'application/json;',
        '',
      ),
      fc.string({ maxLength: 30 }),
    ),
    charset: optional(
      fc.oneof(
        fc.constantFrom(
          'utf-8',
          'UTF-8',
          '"utf-8"',
          'us-ascii',
          'utf-16',
          'utf-16le',
          'latin1',
          'iso-8859-1',
          'binary',
          '',
        ),
        fc.string({ maxLength: 12 }),
      ),
    ),
    encoding: optional(
      fc.oneof(
        fc.constantFrom('gzip', 'deflate', 'identity', 'br', 'zstd', 'GZIP', 'gzip, deflate', 'x-gzip', ''),
        fc.string({ maxLength: 12 }),
      ),
    ),
    encodeAs: fc.constantFrom('declared', 'declared', 'plain', 'garbage'),
  })
  .map(({ target: [url, body], type, charset, encoding, encodeAs }) => {
    const raw = Buffer.from(body);
    const encode =
      encodeAs === 'plain'
        ? raw
        : encodeAs === 'garbage'
          ? Buffer.from('\u001f\u008b not really')
          : encoding === 'gzip'
            ? gzipSync(raw)
            : encoding === 'deflate'
              ? deflateSync(raw)
              : raw;
    const headers: Record<string, string> = {};
    const contentType = `${type}${charset !== undefined ? `; charset=${charset}` : ''}`;
    if (contentType !== '') headers['content-type'] = contentType;
    if (encoding !== undefined) headers['content-encoding'] = encoding;
    return { method: 'POST', url, headers, payload: encode };
  });

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'PROPFIND',
  'MKCOL',
  'COPY',
  'LOCK',
  'SEARCH',
  'TRACE',
  'PURGE',
  'REPORT',
];
const PATHS = [
  '/predict',
  '/feedback',
  '/models',
  '/health',
  '/ready',
  '/metrics',
  '/v2',
  '/v2/health/live',
  '/v2/models/iris',
  '/v2/models/iris/ready',
  '/v2/models/iris/infer',
  '/v2/models/iris/versions/1/infer',
];

/** Any method on known paths, paths that are almost right, percent-escapes that do not decode, long segments. */
export const routeRequests: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom(...METHODS),
    path: fc.oneof(
      fc.constantFrom(...PATHS),
      fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
      fc
        .constantFrom(...PATHS)
        .chain((p) => fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => `${p}/${encodeURIComponent(s)}`)),
      fc.constantFrom(
        '/%',
        '/%zz',
        '/v2/models/%E0%A4%A/ready',
        '/predict%00',
        '//predict',
        '/v2/models/../models',
        '/v2/models/%2e%2e/infer',
      ),
      fc.integer({ min: 90, max: 3000 }).map((n) => `/v2/models/${'m'.repeat(n)}/ready`),
    ),
    query: optional(fc.webQueryParameters()),
    body: optional(fc.oneof(fc.json(), fc.string({ maxLength: 40 }))),
  })
  .map(({ method, path, query, body }): FuzzRequest => ({
    method,
    url: `${path}${query !== undefined ? `?${query}` : ''}`,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    payload: body,
  }));

/** One request's bytes: request lines and headers no HTTP client would send. */
const rawRequestBytes: fc.Arbitrary<string> = fc
  .record({
    method: fc.oneof(
      fc.constantFrom('GET', 'POST', 'HEAD', 'PROPFIND', 'BREW', 'CONNECT', 'OPTIONS', 'TRACE', 'get', 'P OST', ''),
      fc.string({ maxLength: 8 }),
    ),
    path: fc.oneof(
      fc.constantFrom(...PATHS),
      fc.webPath(),
      fc.constantFrom('*', '/%', 'http://x/predict', '/predict?%', 'example.com:443', ''),
      fc.string({ maxLength: 20 }),
    ),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.x', 'HTTP/9.9', ''),
    headers: fc.array(
      fc.oneof(
        fc.constantFrom(
          'Host: x',
          'Content-Type: application/json',
          'Content-Type: application/json; charset=utf-16',
          'Transfer-Encoding: chunked',
          'Content-Encoding: gzip',
          'Connection: close',
        ),
        fc.constantFrom(
          'Expect: 100-continue',
          'Expect: 999-bogus',
          'Expect: ',
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Upgrade: h2c',
        ),
        fc
          .oneof(
            fc.integer({ min: -5, max: 200 }),
            fc.constantFrom('abc', '1e2', '', '0x10', '99999999999999999999', '4194304'),
          )
          .map((n) => `Content-Length: ${n}`),
        fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })).map(([k, v]) => `${k}: ${v}`),
        fc.integer({ min: 8_000, max: 40_000 }).map((n) => `X-Big: ${'a'.repeat(n)}`),
      ),
      { maxLength: 6 },
    ),
    body: fc.oneof(
      fc.constantFrom('', '{}', '{x}', '{"model":"iris","features":{}}', '5\r\n{"a":\r\n0\r\n\r\n', 'zz\r\n'),
      fc.string({ maxLength: 60 }),
    ),
    lineEnd: fc.constantFrom('\r\n', '\r\n', '\n', '\r'),
  })
  .map(
    ({ method, path, version, headers, body, lineEnd }) =>
      `${[`${method} ${path} ${version}`.trimEnd(), ...headers].join(lineEnd)}${lineEnd}${lineEnd}${body}`,
  );

const post = (body: string, length = Buffer.byteLength(body)) =>
  `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${body}`;
/**
 * Well-formed requests to pipeline the fuzzed ones with: a body that is not JSON, one that never
 * ends, a good one, a large answer.
 */
const wellFormed = fc.constantFrom(
  post('{x}'),
  post('{', 4 * 1024 * 1024),
  post('{"model":"iris","instances":[[5.1,3.5,1.4,0.2]]}'),
  'GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n',
);

/** Bytes on a socket: one request, or several pipelined (a parse error or a hang-up with others queued behind it). */
export const rawHttp: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: rawRequestBytes },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.oneof(rawRequestBytes, wellFormed), { minLength: 2, maxLength: 6 })
      .map((requests) => requests.join('')),
  },
);
