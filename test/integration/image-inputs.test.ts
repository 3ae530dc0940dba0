import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appFor, BUNDLED_MODELS, postJson } from '../helpers/app.js';
import { declaredPng, digitPng, imageFile } from '../helpers/images.js';
import { sample, scrape } from '../helpers/metrics.js';
import { binaryBytesInput } from '../helpers/oip-client.js';

/**
 * The bundled digits model takes PNG images (model.json `preprocess`: 8x8 gray, scale 1/15) beside rows of
 * values. examples/digits holds the first holdout row of each digit rendered as a PNG whose pixel is the value
 * x 15 (models/build_examples.py), so an image must be answered exactly as its row of values is.
 */
const app = appFor({ CACHE_ENABLED: 'false' });
/** Large JSON bodies go to a decode worker, which decodes the base64 and hands the bytes back. */
const offloading = appFor({ CACHE_ENABLED: 'false', JSON_OFFLOAD_BYTES: '300' });

const holdout = JSON.parse(readFileSync(`${BUNDLED_MODELS}digits/holdout.json`, 'utf8')) as {
  rows: number[][];
  targets: string[];
};
const rowOf = (digit: number) => holdout.rows[holdout.targets.indexOf(String(digit))]!;
const digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const base64 = (digit: number) => digitPng(digit).toString('base64');

type Prediction = { label: string; probabilities: Record<string, number> };
const strip = ({ label, probabilities }: Prediction) => ({ label, probabilities });

/** What the model answers to each digit's row of values: the reference. */
async function byValues(): Promise<Prediction[]> {
  const { status, body } = await postJson(app(), '/predict', { model: 'digits', instances: digits.map(rowOf) });
  expect(status).toBe(200);
  return (body.predictions as Prediction[]).map(strip);
}

/** A multipart/form-data request to /predict, built by hand: text fields and files, in order. */
function upload(parts: [string, string | Buffer][]) {
  const boundary = 'test-boundary-7f3a';
  const body = Buffer.concat([
    ...parts.flatMap(([name, value]) => [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"` +
          (typeof value === 'string' ? '\r\n\r\n' : `; filename="${name}.png"\r\nContent-Type: image/png\r\n\r\n`),
      ),
      Buffer.isBuffer(value) ? value : Buffer.from(value),
      Buffer.from('\r\n'),
    ]),
    Buffer.from(`--${boundary}--\r\n`),
  ]);
  return app().inject({
    method: 'POST',
    url: '/predict',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: body,
  });
}

/** The binary tensor data extension with one BYTES input of whole PNG files. */
const oipBinaryImages = (files: Buffer[]) => binaryBytesInput('input', files);

describe('images in, as a client holds them: every way answers what the row of values answers', () => {
  it('/predict: one image as base64, instances of images, and the PNG file as the body', async () => {
    const expected = await byValues();
    expect(expected.map((p) => p.label)).toEqual(digits.map(String)); // the rows are classified right
    const single = await postJson(app(), '/predict', { model: 'digits', image: base64(3) });
    expect(single.status).toBe(200);
    expect(strip(single.body)).toEqual(expected[3]);
    for (const served of [app(), offloading()]) {
      const many = await postJson(served, '/predict', {
        model: 'digits',
        instances: digits.map((d) => ({ image: base64(d) })),
      });
      expect(many.status).toBe(200);
      expect((many.body.predictions as Prediction[]).map(strip)).toEqual(expected);
    }
    const file = await app().inject({
      method: 'POST',
      url: '/predict?model=digits',
      headers: { 'content-type': 'image/png' },
      payload: digitPng(7),
    });
    expect(file.statusCode).toBe(200);
    expect(strip(file.json())).toEqual(expected[7]);
  });

  it('/predict: files uploaded as multipart/form-data (curl -F image=@… -F model=…), one or several', async () => {
    const expected = await byValues();
    const one = await upload([
      ['model', 'digits'],
      ['image', digitPng(2)],
    ]);
    expect(one.statusCode).toBe(200);
    expect(strip(one.json())).toEqual(expected[2]);
    const many = await upload([['model', 'digits'], ...digits.map((d) => ['image', digitPng(d)] as [string, Buffer])]);
    expect(many.statusCode).toBe(200);
    expect((many.json().predictions as Prediction[]).map(strip)).toEqual(expected);
  });

  it('OIP: a BYTES input of base64 images over JSON, and of raw files over the binary extension', async () => {
    const expected = await byValues();
    const json = await postJson(app(), '/v2/models/digits/infer', {
      inputs: [{ name: 'input', datatype: 'BYTES', shape: [10], data: digits.map(base64) }],
      outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
    });
    expect(json.status).toBe(200);
    expect(json.body.outputs[0].data.map((c: string) => c.split(':')[2])).toEqual(digits.map(String));
    const { body, headerLength } = oipBinaryImages(digits.map(digitPng));
    const binary = await app().inject({
      method: 'POST',
      url: '/v2/models/digits/infer',
      headers: { 'inference-header-content-length': String(headerLength) },
      payload: body,
    });
    expect(binary.statusCode).toBe(200);
    const probabilities = binary.json().outputs[0].data as number[];
    digits.forEach((d) =>
      expect(probabilities.slice(d * 10, d * 10 + 10)).toEqual(digits.map((k) => expected[d]!.probabilities[k])),
    );
  });

  it('model metadata shows the input as BYTES [-1] and the tensor its images feed; /models its preprocessing', async () => {
    const metadata = (await app().inject('/v2/models/digits')).json();
    expect(metadata.inputs).toEqual([
      {
        name: 'input',
        datatype: 'BYTES',
        shape: [-1],
        parameters: { preprocess: 'image', tensor: { datatype: 'FP32', shape: [-1, 1, 8, 8] } },
      },
    ]);
    expect((await app().inject('/v2/models/iris')).json().inputs[0].parameters).toBeUndefined();
    const models = (await app().inject('/models')).json().models as {
      name: string;
      versions: { preprocess?: unknown }[];
    }[];
    expect(models.find((m) => m.name === 'digits')!.versions[0]!.preprocess).toEqual({
      input: {
        image: expect.objectContaining({ size: [8, 8], channels: 'gray', fit: 'fill', max_pixels: 40_000_000 }),
      },
    });
  });
});

describe('bad images: a 4xx with a stable code and the field at fault', () => {
  const predict = (body: unknown) => postJson(app(), '/predict', body);

  it('415 NOT_AN_IMAGE for bytes that are no image, naming the row', async () => {
    const { status, body } = await predict({
      model: 'digits',
      instances: [{ image: base64(1) }, { image: Buffer.from('<svg/>').toString('base64') }],
    });
    expect(status).toBe(415);
    expect(body).toMatchObject({ code: 'NOT_AN_IMAGE', details: [{ path: 'instances[1].image' }] });
  });

  it('400 INVALID_IMAGE for a truncated PNG, with the format', async () => {
    const png = imageFile('picture.png');
    const { status, body } = await predict({ model: 'digits', image: png.subarray(0, 200).toString('base64') });
    expect(status).toBe(400);
    expect(body).toMatchObject({
      code: 'INVALID_IMAGE',
      error: 'a corrupt or truncated png image',
      details: [{ path: 'image', message: expect.stringMatching(/^png: /) }],
    });
  });

  it('413 IMAGE_TOO_LARGE for a PNG of 60 bytes declaring 30,000 x 30,000 pixels, and for too many bytes', async () => {
    const bomb = await app().inject({
      method: 'POST',
      url: '/v2/models/digits/infer',
      payload: {
        inputs: [
          { name: 'input', datatype: 'BYTES', shape: [1], data: [declaredPng(30_000, 30_000).toString('base64')] },
        ],
      },
    });
    expect(bomb.statusCode).toBe(413);
    expect(bomb.json()).toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      details: [{ path: 'inputs.input[0]', message: '900000000 pixels, over max_pixels 40000000' }],
    });
  });

  it('400 for base64 that is not, images sent to a model without preprocessing, and rows mixing images and values', async () => {
    expect((await predict({ model: 'digits', image: 'not base64!' })).body).toMatchObject({
      code: 'INVALID_INPUT',
      details: [{ path: 'image', message: 'not base64: expected the file encoded as standard or URL-safe base64' }],
    });
    expect((await predict({ model: 'iris', image: base64(1) })).body).toMatchObject({
      code: 'INVALID_INPUT',
      details: [{ path: 'image', message: expect.stringMatching(/model iris takes no images/) }],
    });
    expect((await predict({ model: 'digits', instances: [{ image: base64(1) }, rowOf(2)] })).body).toMatchObject({
      code: 'INVALID_INPUT',
      details: [{ path: 'instances[1]', message: 'send every row as {"image": "<base64>"}, or none' }],
    });
    expect((await predict({ model: 'digits', image: base64(1), instances: [rowOf(1)] })).body).toMatchObject({
      code: 'INVALID_REQUEST',
    });
    const shaped = await postJson(app(), '/v2/models/digits/infer', {
      inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 1], data: [base64(1)] }],
    });
    expect(shaped.body).toMatchObject({ details: [{ path: 'inputs.input.shape' }] });
  });

  it('a form: 400 for a file under another name or no model, 413 TOO_MANY_ROWS past 64 files', async () => {
    const stray = await upload([
      ['model', 'digits'],
      ['photo', digitPng(1)],
    ]);
    expect(stray.statusCode).toBe(400);
    expect(stray.json()).toMatchObject({ details: [{ path: 'form.photo' }] });
    const noModel = await upload([['image', digitPng(1)]]);
    expect(noModel.json()).toMatchObject({ code: 'INVALID_REQUEST', details: [{ path: 'form.model' }] });
    const crowd = await upload([
      ['model', 'digits'],
      ...Array.from({ length: 65 }, () => ['image', digitPng(1)] as [string, Buffer]),
    ]);
    expect(crowd.statusCode).toBe(413);
    expect(crowd.json()).toMatchObject({ code: 'TOO_MANY_ROWS', details: [{ path: 'form.image' }] });
    const cut = await app().inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      payload:
        '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\ndigits\r\n' +
        '--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG',
    });
    expect(cut.statusCode).toBe(400); // the form ends before its closing boundary
    expect(cut.json()).toMatchObject({ code: 'INVALID_REQUEST', details: [{ path: 'form' }] });
    const notImage = await upload([
      ['model', 'digits'],
      ['image', Buffer.from('{"not": "an image"}')],
    ]);
    expect(notImage.json()).toMatchObject({ code: 'NOT_AN_IMAGE', details: [{ path: 'form.image' }] });
  });

  it('counts images by format and refusals by code in /metrics', async () => {
    const before = await scrape(app());
    const count = (text: string, name: string, labels: Record<string, string>) => sample(text, name, labels) ?? 0;
    await predict({ model: 'digits', instances: [{ image: base64(1) }, { image: base64(2) }] });
    await predict({ model: 'digits', image: imageFile('picture.png').subarray(0, 200).toString('base64') });
    const after = await scrape(app());
    const png = { model: 'digits', format: 'png' };
    expect(count(after, 'ml_images_decoded_total', png) - count(before, 'ml_images_decoded_total', png)).toBe(2);
    const small = { model: 'digits', le: '64' }; // 8x8 PNGs: 64 pixels
    expect(count(after, 'ml_image_pixels_bucket', small) - count(before, 'ml_image_pixels_bucket', small)).toBe(2);
    const invalid = { model: 'digits', code: 'INVALID_IMAGE' };
    expect(count(after, 'ml_images_refused_total', invalid) - count(before, 'ml_images_refused_total', invalid)).toBe(
      1,
    );
  });

  it('still answers rows of values to the same model', async () => {
    const { status, body } = await predict({ model: 'digits', instances: [rowOf(4)] });
    expect(status).toBe(200);
    expect(body.predictions[0].label).toBe('4');
  });
});
