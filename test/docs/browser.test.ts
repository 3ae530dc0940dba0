import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../helpers/app.js';
import { ServerProcess } from '../helpers/server-process.js';

/** Debian's chromium (`apt-get install -y chromium`; .ci/run and the workflow install it). Never a browser download. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
const WAIT = { timeout: 20_000 };

/** An operation's block in Swagger UI, by method and documented path. */
const operation = (page: Page, method: string, path: string) =>
  page.locator(`.opblock-${method}:has(.opblock-summary-path[data-path="${path}"])`);

describe('/docs in a real browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    server = await ServerProcess.start({ MODEL_DIR: BUNDLED_MODELS, INFERENCE_WORKERS: '1' });
    await server.waitUntilReady();
    // --no-sandbox: the tests may run as root (CI containers), where Chromium's sandbox cannot start.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('renders the operations, and "Try it out" on /predict with iris answers 200', async () => {
    await page.goto(`${server.url}/docs/`, { waitUntil: 'load', ...WAIT });
    await operation(page, 'post', '/predict').waitFor(WAIT);
    for (const [method, path] of [
      ['post', '/v2/models/{model}/infer'],
      ['post', '/feedback'],
      ['get', '/metrics'],
      ['get', '/v2/health/ready'],
    ] as const) {
      await expect(operation(page, method, path).count()).resolves.toBe(1);
    }

    const predict = operation(page, 'post', '/predict');
    await predict.locator('.opblock-summary').first().click();
    await predict.locator('button.try-out__btn').click(WAIT);
    const body = predict.locator('textarea.body-param__text');
    await body.waitFor(WAIT);
    // the body is filled from the document's example: iris, one row of named features
    expect(JSON.parse(await body.inputValue())).toMatchObject({ model: 'iris', features: { sepal_length: 5.1 } });
    await predict.locator('button.execute').click(WAIT);

    const status = predict.locator('.live-responses-table .response .response-col_status');
    await status.first().waitFor(WAIT);
    expect((await status.first().innerText()).trim()).toBe('200');
    const answer = predict.locator('.live-responses-table .response-col_description pre');
    await expect(answer.first().innerText()).resolves.toContain('"label": "setosa"');

    // the artifacts: the page as it opens (the operations), and /predict with its 200
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: `${ARTIFACTS}docs.png` });
    await answer.first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${ARTIFACTS}docs-predict.png` });
    expect(existsSync(`${ARTIFACTS}docs.png`) && existsSync(`${ARTIFACTS}docs-predict.png`)).toBe(true);
  });
});
