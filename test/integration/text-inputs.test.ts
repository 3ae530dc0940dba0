import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appFor, BUNDLED_MODELS, postJson } from '../helpers/app.js';
import { sample, scrape } from '../helpers/metrics.js';
import { binaryBytesInput } from '../helpers/oip-client.js';
import { TempRepository } from '../helpers/repository.js';
import { ECHO_REPOSITORY, reference } from '../helpers/texts.js';

/**
 * Texts in, as a client holds them. token_echo (test/fixtures/texts) answers the token tensors it was fed,
 * so what the whole server made of each text is compared with Python's tokenizers (reference.json) id for
 * id. The bundled topics classifier answers texts as it answers their token ids sent as tensors.
 */
const app = appFor({ CACHE_ENABLED: 'false' });
const caching = appFor({ CACHE_ENABLED: 'true' });
const echo = appFor({ CACHE_ENABLED: 'false', MODEL_DIR: ECHO_REPOSITORY });
/** Large JSON bodies go to a decode worker, which reads the texts and hands them back. */
const offloading = appFor({ CACHE_ENABLED: 'false', MODEL_DIR: ECHO_REPOSITORY, JSON_OFFLOAD_BYTES: '300' });

const ECHO_FILES = `${ECHO_REPOSITORY}token_echo/1/`;
const tokenizer = readFileSync(`${ECHO_FILES}tokenizer.json`);
const onnx = `${ECHO_FILES}model.onnx`;
const repo = new TempRepository()
  .addOnnx('strict', '1', onnx, {
    preprocess: { text: { text: { max_length: 16, truncation: false, max_bytes: 64 } } },
  })
  .write('strict/1/tokenizer.json', tokenizer)
  .addOnnx('beside', '1', onnx, { preprocess: { text: { text: { max_length: 16, tokenizer: 'tok/bpe.json' } } } })
  .write('beside/tok/bpe.json', tokenizer)
  .addOnnx('missing', '1', onnx, { preprocess: { text: { text: { max_length: 16 } } } })
  .addOnnx('broken', '1', onnx, { preprocess: { text: { text: { max_length: 16 } } } })
  .write('broken/1/tokenizer.json', '{"model": {"type": "Nonsense"}}');
const edges = appFor({ CACHE_ENABLED: 'false' }, repo);

type Tensor = { name: string; datatype: string; shape: number[]; data: number[] };
const outputs = (body: Record<string, unknown>) =>
  Object.fromEntries((body.outputs as Tensor[]).map((o) => [o.name, o]));

/** The binary tensor data extension with one BYTES input of UTF-8 texts, as inject() takes it. */
function oipBinaryTexts(items: Buffer[]) {
  const { body, headerLength } = binaryBytesInput('text', items);
  return { payload: body, headers: { 'inference-header-content-length': String(headerLength) } };
}

const textsInput = (texts: string[]) => ({
  inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }],
});

describe('texts tokenised exactly as the reference tokenizer does, through the whole server', () => {
  const { texts } = reference;
  const expectReference = (body: Record<string, unknown>) => {
    const { ids, mask, types } = outputs(body);
    const width = 16;
    expect(ids!.shape).toEqual([texts.length, width]);
    expect(mask!.datatype).toBe('INT32');
    reference.token_echo.forEach((row, i) => {
      const slice = (t: Tensor) => t.data.slice(i * width, (i + 1) * width);
      expect({ text: texts[i], ids: slice(ids!), mask: slice(mask!), types: slice(types!) }).toEqual({
        text: texts[i],
        ids: row.ids,
        mask: row.mask,
        types: row.type_ids,
      });
    });
  };

  it('OIP: a BYTES input of UTF-8 texts over JSON (inline and on a decode worker) and over the binary extension', async () => {
    for (const server of [echo, offloading]) {
      const json = await postJson(server(), '/v2/models/token_echo/infer', textsInput(texts));
      expect(json.status).toBe(200);
      expectReference(json.body);
    }
    const binary = await echo().inject({
      method: 'POST',
      url: '/v2/models/token_echo/infer',
      ...oipBinaryTexts(texts.map((t) => Buffer.from(t, 'utf8'))),
    });
    expect(binary.statusCode).toBe(200);
    expectReference(binary.json());
  });

  it('/predict: texts, one text, a text/plain body and a form field answer what the token ids answer', async () => {
    const sample = texts.slice(3, 12);
    const many = await postJson(echo(), '/predict', { model: 'token_echo', texts: sample });
    expect(many.status).toBe(200);
    const predictions = many.body.predictions as { outputs: Record<string, number[]> }[];
    expect(predictions.map((p) => p.outputs.ids)).toEqual(reference.token_echo.slice(3, 12).map((r) => r.ids));
    const one = await postJson(echo(), '/predict', { model: 'token_echo', text: texts[10] });
    expect((one.body.outputs as Record<string, number[]>).ids).toEqual(reference.token_echo[10]!.ids);
    const plain = await echo().inject({
      method: 'POST',
      url: '/predict?model=token_echo',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      payload: Buffer.from(texts[14]!, 'utf8'),
    });
    expect(plain.statusCode).toBe(200);
    expect((plain.json().outputs as Record<string, number[]>).mask).toEqual(reference.token_echo[14]!.mask);
    const boundary = 'text-boundary-1';
    const form = await echo().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload:
        `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\ntoken_echo\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="text"\r\n\r\n${texts[4]}\r\n--${boundary}--\r\n`,
    });
    expect(form.statusCode).toBe(200);
    expect((form.json().outputs as Record<string, number[]>).ids).toEqual(reference.token_echo[4]!.ids);
  });

  it('the bundled topics classifier answers its texts as it answers their token ids, and scores its card', async () => {
    const holdout = JSON.parse(readFileSync(`${BUNDLED_MODELS}topics/holdout.json`, 'utf8')) as {
      texts: string[];
      targets: string[];
    };
    let right = 0;
    for (let at = 0; at < holdout.texts.length; at += 64) {
      const chunk = holdout.texts.slice(at, at + 64);
      const { status, body } = await postJson(app(), '/predict', { model: 'topics', texts: chunk });
      expect(status).toBe(200);
      (body.predictions as { label: string }[]).forEach((p, i) => (right += +(p.label === holdout.targets[at + i])));
    }
    const card = JSON.parse(readFileSync(`${BUNDLED_MODELS}topics/model.json`, 'utf8')) as {
      card: { versions: Record<string, { holdout_score: number }> };
    };
    // scikit-learn scored it in float64, onnxruntime runs float32: at most one text may fall the other way
    expect(Math.abs(right / holdout.texts.length - card.card.versions['1']!.holdout_score)).toBeLessThanOrEqual(
      1 / holdout.texts.length,
    );
    const rows = reference.topics.slice(20, 26);
    const asText = await postJson(app(), '/v2/models/topics/infer', textsInput(reference.texts.slice(20, 26)));
    const asTokens = await postJson(app(), '/v2/models/topics/infer', {
      inputs: [
        { name: 'input_ids', datatype: 'INT64', shape: [rows.length, 128], data: rows.flatMap((r) => r.ids) },
        { name: 'attention_mask', datatype: 'INT64', shape: [rows.length, 128], data: rows.flatMap((r) => r.mask) },
      ],
    });
    expect([asText.status, asTokens.status]).toEqual([200, 200]);
    expect(outputs(asText.body).probabilities).toEqual(outputs(asTokens.body).probabilities);
  });

  it('caches on the token tensors: the same text again is a hit, over /predict and OIP alike', async () => {
    const text = 'The kernel scheduler and the compiler';
    const first = await postJson(caching(), '/predict', { model: 'topics', text });
    const again = await postJson(caching(), '/predict', { model: 'topics', texts: [text] });
    const oip = await postJson(caching(), '/v2/models/topics/infer', textsInput([text]));
    expect([first.body.cached, again.body.cached]).toEqual([false, true]);
    expect((oip.body.parameters as { cached: boolean }).cached).toBe(true);
    const other = await postJson(caching(), '/predict', { model: 'topics', text: `${text}!` });
    expect(other.body.cached).toBe(false);
  });

  it('metadata shows the text as BYTES [-1] with the tensors it fills; /models its resolved preprocessing', async () => {
    const meta = await app().inject({ method: 'GET', url: '/v2/models/topics' });
    expect(meta.json().inputs).toEqual([
      {
        name: 'text',
        datatype: 'BYTES',
        shape: [-1],
        parameters: {
          preprocess: 'text',
          tensors: {
            input_ids: { datatype: 'INT64', shape: [-1, -1] },
            attention_mask: { datatype: 'INT64', shape: [-1, -1] },
          },
        },
      },
    ]);
    const models = (await app().inject({ method: 'GET', url: '/models' })).json<{
      models: { name: string; versions: { predict: string; preprocess: unknown }[] }[];
    }>();
    const topics = models.models.find((m) => m.name === 'topics')!.versions[0]!;
    expect(topics.predict).toBe('texts');
    expect(topics.preprocess).toEqual({
      text: {
        text: {
          tokenizer: 'tokenizer.json',
          max_length: 128,
          truncation: true,
          padding: 'max_length',
          inputs: { ids: 'input_ids', mask: 'attention_mask' },
          max_bytes: 262144,
        },
      },
    });
  });

  it('loads a tokenizer beside model.json, and fails a version whose tokenizer is missing or broken, saying why', async () => {
    const beside = await postJson(edges(), '/predict', { model: 'beside', text: reference.texts[5] });
    expect(beside.status).toBe(200);
    expect((beside.body.outputs as Record<string, number[]>).ids).toEqual(reference.token_echo[5]!.ids);
    const ready = (await edges().inject({ method: 'GET', url: '/ready' })).json<{
      models: { name: string; state: string; reason?: string }[];
    }>();
    const state = (name: string) => ready.models.find((m) => m.name === name);
    expect(state('missing')).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/no tokenizer.json in the version's folder or beside model.json/),
    });
    expect(state('broken')).toMatchObject({
      state: 'failed',
      reason: expect.stringMatching(/is not a Hugging Face tokenizer.json/),
    });
    expect(state('strict')).toMatchObject({ state: 'ready' });
  });
});

describe('bad texts: a 4xx with a stable code and the field at fault; emojis, CJK and RTL never refused', () => {
  const refusal = (status: number, code: string, path: string) =>
    expect.objectContaining({
      status,
      body: expect.objectContaining({ code, details: [expect.objectContaining({ path })] }),
    });
  const asPost = async (server: typeof app, url: string, body: unknown) => {
    const { status, body: json } = await postJson(server(), url, body);
    return { status, body: json };
  };

  it('400 INVALID_TEXT for bytes that are not UTF-8: in a JSON body, a text/plain body and an OIP binary element', async () => {
    const json = await echo().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.concat([
        Buffer.from('{"model":"token_echo","texts":["fine","bad '),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"]}'),
      ]),
    });
    expect({ status: json.statusCode, body: json.json() }).toEqual(refusal(400, 'INVALID_TEXT', 'texts[1]'));
    // U+FFFD a client sends itself is text like any other
    expect((await postJson(echo(), '/predict', { model: 'token_echo', text: 'a \ufffd b' })).status).toBe(200);
    const plain = await echo().inject({
      method: 'POST',
      url: '/predict?model=token_echo',
      headers: { 'content-type': 'text/plain' },
      payload: Buffer.from([0x61, 0xc3, 0x28]),
    });
    expect({ status: plain.statusCode, body: plain.json() }).toEqual(refusal(400, 'INVALID_TEXT', 'body'));
    const binary = await echo().inject({
      method: 'POST',
      url: '/v2/models/token_echo/infer',
      ...oipBinaryTexts([Buffer.from('ok'), Buffer.from([0xed, 0xa0, 0x80])]),
    });
    expect({ status: binary.statusCode, body: binary.json() }).toEqual(refusal(400, 'INVALID_TEXT', 'inputs.text[1]'));
    const oipJson = await echo().inject({
      method: 'POST',
      url: '/v2/models/token_echo/infer',
      payload: Buffer.concat([
        Buffer.from('{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["x'),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"]}]}'),
      ]),
    });
    expect({ status: oipJson.statusCode, body: oipJson.json() }).toEqual(
      refusal(400, 'INVALID_TEXT', 'inputs.text[0]'),
    );
  });

  it('400 INVALID_TEXT for a lone surrogate, and for a text that is not a string over OIP', async () => {
    const lone = await echo().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"model":"token_echo","text":"half a pair \\ud83d"}',
    });
    expect({ status: lone.statusCode, body: lone.json() }).toEqual(refusal(400, 'INVALID_TEXT', 'text'));
    const number = await asPost(echo, '/v2/models/token_echo/infer', {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['fine', 7] }],
    });
    expect(number).toEqual(refusal(400, 'INVALID_TEXT', 'inputs.text[1]'));
  });

  it('413 TEXT_TOO_LONG past max_length tokens where truncation is off, and past max_bytes', async () => {
    const long = reference.token_echo.findIndex(
      (r) => r.tokens > 16 && Buffer.byteLength(reference.texts[reference.token_echo.indexOf(r)]!) <= 64,
    );
    expect(long).toBeGreaterThanOrEqual(0);
    const tokens = await asPost(edges, '/predict', { model: 'strict', texts: ['short', reference.texts[long]] });
    expect(tokens).toEqual(refusal(413, 'TEXT_TOO_LONG', 'texts[1]'));
    expect(tokens.body.error).toBe(
      `a text of ${reference.token_echo[long]!.tokens} tokens; the model takes up to 16 and does not truncate`,
    );
    const bytes = await asPost(edges, '/predict', { model: 'strict', text: '€'.repeat(22) });
    expect(bytes).toEqual(refusal(413, 'TEXT_TOO_LONG', 'text'));
    expect(bytes.body.error).toBe('a text of 66 UTF-8 bytes; the model takes up to 64');
    // the same long text is cut, and counted, where truncation is on (token_echo's default)
    const cut = await asPost(echo, '/predict', { model: 'token_echo', text: reference.texts[long] });
    expect(cut.status).toBe(200);
  });

  it('400 for text to a model that takes none, text with rows, and a BYTES text of another shape', async () => {
    const iris = await asPost(app, '/predict', { model: 'iris', text: 'hello' });
    expect(iris).toEqual(refusal(400, 'INVALID_INPUT', 'text'));
    expect(iris.body.error).toMatch(/model iris takes no text/);
    const both = await asPost(app, '/predict', { model: 'topics', text: 'a', texts: ['b'] });
    expect(both).toEqual(refusal(400, 'INVALID_REQUEST', 'text'));
    const withRows = await asPost(app, '/predict', { model: 'topics', texts: ['b'], instances: [[1]] });
    expect(withRows).toEqual(refusal(400, 'INVALID_REQUEST', 'texts'));
    const shape = await asPost(echo, '/v2/models/token_echo/infer', {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [1, 1], data: ['a'] }],
    });
    expect(shape).toEqual(refusal(400, 'INVALID_INPUT', 'inputs.text.shape'));
  });

  it('emojis, combining marks, CJK, RTL, control characters and empty texts are tokenised, and counted in /metrics', async () => {
    const before = await scrape(echo());
    const count = (text: string) => sample(text, 'ml_text_tokens_count', { model: 'token_echo' }) ?? 0;
    const truncated = (text: string) => sample(text, 'ml_texts_truncated_total', { model: 'token_echo' }) ?? 0;
    const { status } = await postJson(echo(), '/predict', { model: 'token_echo', texts: reference.texts });
    expect(status).toBe(200);
    const after = await scrape(echo());
    expect(count(after) - count(before)).toBe(reference.texts.length);
    expect(truncated(after) - truncated(before)).toBe(reference.token_echo.filter((r) => r.truncated).length);
    const tokens = (text: string) => sample(text, 'ml_text_tokens_sum', { model: 'token_echo' }) ?? 0;
    expect(tokens(after) - tokens(before)).toBe(reference.token_echo.reduce((sum, r) => sum + r.tokens, 0));
    await asPost(edges, '/predict', { model: 'strict', text: '€'.repeat(30) });
    expect(
      sample(await scrape(edges()), 'ml_texts_refused_total', { model: 'strict', code: 'TEXT_TOO_LONG' }),
    ).toBeGreaterThan(0);
  });
});
