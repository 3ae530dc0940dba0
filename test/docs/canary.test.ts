import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { samplesNeededForProportions } from '../../src/core/experiments/statistics.js';
import { modelConfigSchema } from '../../src/core/models/model-config.js';
import { appFor } from '../helpers/app.js';
import { routesOf } from './routes.js';

/** docs/canary.md, the canary runbook: its links land, its model.json examples parse, its routes exist. */

const ROOT = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const RUNBOOK = 'docs/canary.md';
const doc = read(RUNBOOK);

/** A heading's anchor as GitHub writes it: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const anchorsOf = (markdown: string) => new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

/** `path#anchor` (relative to `from`) resolves to a file, and to a heading of it when it names one. */
function broken(from: string, target: string): string | undefined {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const file = path === '' ? from : normalize(join(dirname(from), path));
  if (!existsSync(join(ROOT, file))) return `${from}: ${target} (no file ${file})`;
  if (anchor !== undefined && !anchorsOf(read(file)).has(anchor))
    return `${from}: ${target} (no heading #${anchor} in ${file})`;
  return undefined;
}

describe(RUNBOOK, () => {
  it('is linked from the README, deployment.md and monitoring.md', () => {
    expect(read('README.md')).toContain('[docs/canary.md](docs/canary.md)');
    expect(read('docs/deployment.md')).toContain('[canary.md](canary.md)');
    expect(read('docs/monitoring.md')).toContain('[canary.md](canary.md)');
  });

  it('links only to files and headings that exist, as do the alerts and dashboard panels that point into it', () => {
    const links = [...doc.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
    expect(links.length).toBeGreaterThan(10);
    const pointers = ['monitoring/alerts.yml', 'monitoring/grafana-dashboard.json', 'monitoring/README.md'].flatMap(
      (file) =>
        [...read(file).matchAll(/docs\/canary\.md(#[\w-]+)?/g)].map((m) => ({
          file,
          target: `${file.startsWith('monitoring/') ? '../' : ''}docs/canary.md${m[1] ?? ''}`,
        })),
    );
    expect(pointers.map((p) => p.target)).toEqual(
      expect.arrayContaining(['../docs/canary.md#roll-back', '../docs/canary.md#decide']),
    );
    const problems = [...links.map((t) => broken(RUNBOOK, t)), ...pointers.map((p) => broken(p.file, p.target))].filter(
      Boolean,
    );
    expect(problems).toEqual([]);
  });

  it('has model.json examples the service accepts, the control listed first', () => {
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map(
      (m) => JSON.parse(m[1]!) as { traffic: { variants: { name: string }[]; shadows?: unknown } },
    );
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks.some((block) => block.traffic.shadows !== undefined)).toBe(true); // "Shadow first" is checked too
    for (const block of blocks) {
      const parsed = modelConfigSchema.safeParse({ traffic: block.traffic });
      expect(parsed.success, `${JSON.stringify(block)}: ${parsed.error?.message}`).toBe(true);
    }
    expect(blocks[0]!.traffic.variants.map((v) => v.name)).toEqual(['v1', 'v2']);
  });

  it('gives the sample sizes the service computes', () => {
    expect(samplesNeededForProportions({ n: 1000, correct: 920 }, { n: 1000, correct: 910 }).perVariant).toBe(12208);
    expect(samplesNeededForProportions({ n: 1000, correct: 920 }, { n: 1000, correct: 900 }).perVariant).toBe(3213);
    expect(doc).toContain(
      's.samplesNeededForProportions({ n: 1000, correct: 920 }, { n: 1000, correct: 910 }).perVariant))"',
    );
    expect(doc).toContain('# 12208  (a 2-point difference: 3213)');
    expect(doc).toContain(
      `at 5% and 100 labels/s, 12,208\n   labels take about ${Math.round(12208 / (0.05 * 100) / 60)} minutes`,
    );
  });

  describe('its curl examples', () => {
    const app = appFor({ ADMIN_TOKEN: 'a-token-of-at-least-16-characters', LOG_LEVEL: 'silent' });

    it('call routes the app serves (with ADMIN_TOKEN set) or the design fixes', () => {
      const routes = routesOf(app().printRoutes({ commonPrefix: false }));
      const matches = (method: string, path: string) =>
        routes.some((r) => r.method === method && new RegExp(`^${r.path.replace(/:\w+/g, '[^/]+')}$`).test(path));
      // every curl command, its continuation lines joined, up to the end of the line or of inline code
      const commands = [...doc.replace(/\\\n\s*/g, ' ').matchAll(/curl [^`\n]*/g)].map((m) => m[0]);
      const calls = commands.map((command) => ({
        method: /-X POST|\s-d\s/.test(command) ? 'POST' : 'GET',
        path: /(?:\$S|localhost:\d+)(\/[^\s'"]*)/.exec(command)![1]!,
      }));
      expect(calls.length).toBeGreaterThanOrEqual(8);
      expect(calls.filter((c) => !matches(c.method, c.path))).toEqual([]);
    });
  });
});
