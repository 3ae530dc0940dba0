import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { memoryBudget } from '../../src/runtime/memory-budget.js';

const GiB = 1024 ** 3;

describe('memory budget and the in-flight caps it sets', () => {
  it('reads the cgroup memory limit (v2, then v1), and the machine memory when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memory-'));
    const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    expect(memoryBudget([file('v2', `${2 * GiB}\n`)])).toBe(Math.min(2 * GiB, totalmem()));
    expect(memoryBudget([file('v2max', 'max\n'), file('v1', `${GiB}\n`)])).toBe(Math.min(GiB, totalmem()));
    expect(memoryBudget([join(dir, 'absent')])).toBe(totalmem());
  });

  it("derives MAX_INFLIGHT_BYTES and MAX_INFLIGHT_ROWS from the memory, never below one request's own limits", () => {
    const pod = loadConfig({}, 1, 2 * GiB);
    expect([pod.MAX_INFLIGHT_BYTES, pod.MAX_INFLIGHT_ROWS]).toEqual([(2 * GiB) / 32, (2 * GiB) / (64 * 1024)]);
    const tiny = loadConfig({}, 1, 64 * 1024 ** 2);
    expect([tiny.MAX_INFLIGHT_BYTES, tiny.MAX_INFLIGHT_ROWS]).toEqual([tiny.BODY_LIMIT_BYTES, tiny.MAX_REQUEST_ROWS]);
    expect(loadConfig({ MAX_INFLIGHT_BYTES: '8388608', MAX_INFLIGHT_ROWS: '20000' }, 1, 2 * GiB)).toMatchObject({
      MAX_INFLIGHT_BYTES: 8388608,
      MAX_INFLIGHT_ROWS: 20000,
    });
  });

  it('refuses caps a single admissible request could never fit under', () => {
    const issues = () => {
      try {
        loadConfig(
          { BODY_LIMIT_BYTES: '4096', MAX_INFLIGHT_BYTES: '2048', MAX_REQUEST_ROWS: '100', MAX_INFLIGHT_ROWS: '99' },
          1,
          GiB,
        );
      } catch (err) {
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(issues().map((i) => i.split('=')[0])).toEqual(['MAX_INFLIGHT_BYTES', 'MAX_INFLIGHT_ROWS']);
  });
});
