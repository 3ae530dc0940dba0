import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { cpuBudget } from '../src/runtime/cpu-budget.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

describe('config', () => {
  it('has defaults that serve the bundled models on port 8000', () => {
    const config = loadConfig({}, 2);
    expect(config.PORT).toBe(8000);
    expect(config.MODEL_DIR).toBe('./models');
    expect(config.VALIDATION_LEVEL).toBe('strict');
    expect(config.INFERENCE_WORKERS).toBe(2);
    expect(config.ORT_INTRA_OP_THREADS).toBe(1);
  });

  it('derives intra-op threads from the CPU budget and the worker count', () => {
    expect(loadConfig({ INFERENCE_WORKERS: '1' }, 4).ORT_INTRA_OP_THREADS).toBe(4);
    expect(loadConfig({ INFERENCE_WORKERS: '3' }, 4).ORT_INTRA_OP_THREADS).toBe(1);
    expect(loadConfig({ INFERENCE_WORKERS: '2', ORT_INTRA_OP_THREADS: '3' }, 4).ORT_INTRA_OP_THREADS).toBe(3);
  });

  it('names every bad variable', () => {
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', READY_REQUIRES_ALL_MODELS: 'yes' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues.join('\n');
      expect(issues).toContain('PORT="eighty"');
      expect(issues).toContain('LOG_LEVEL="loud"');
      expect(issues).toContain('READY_REQUIRES_ALL_MODELS="yes"');
    }
  });

  it('refuses an ADMIN_TOKEN under 16 characters without printing it', () => {
    expect(loadConfig({ ADMIN_TOKEN: 'a-long-enough-admin-token' }).ADMIN_TOKEN).toBe('a-long-enough-admin-token');
    expect(loadConfig({}).ADMIN_TOKEN).toBeUndefined();
    expect(() => loadConfig({ ADMIN_TOKEN: 'short-secret' })).toThrow('ADMIN_TOKEN=(hidden): at least 16 characters');
    expect(() => loadConfig({ ADMIN_TOKEN: 'short-secret' })).not.toThrow(/short-secret/);
  });

  it('refuses a CACHE_HMAC_KEY under 32 characters without printing it', () => {
    const key = 'a cache signing key of 32 chars+';
    expect(loadConfig({ CACHE_HMAC_KEY: key }).CACHE_HMAC_KEY).toBe(key);
    expect(loadConfig({}).CACHE_HMAC_KEY).toBeUndefined();
    expect(() => loadConfig({ CACHE_HMAC_KEY: key.slice(1) })).toThrow(
      'CACHE_HMAC_KEY=(hidden): at least 32 characters',
    );
    expect(() => loadConfig({ CACHE_HMAC_KEY: key.slice(1) })).not.toThrow(/signing/);
  });

  it('never prints a REDIS_URL it refuses: it may hold a password', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://:pass word@host:6379' })).toThrow(
      'REDIS_URL=(hidden): a redis:// or rediss:// URL',
    );
    expect(() => loadConfig({ REDIS_URL: 'redis://:pass word@host:6379' })).not.toThrow(/pass/);
  });

  it('refuses HTTP timeouts that contradict each other', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' })).toThrow(
      'HTTP_HEADERS_TIMEOUT_MS=5000: must be at most HTTP_REQUEST_TIMEOUT_MS (4000)',
    );
    expect(() => loadConfig({ HTTP_IDLE_TIMEOUT_MS: '30000', REQUEST_TIMEOUT_MS: '30000' })).toThrow(
      'HTTP_IDLE_TIMEOUT_MS=30000: must be above REQUEST_TIMEOUT_MS (30000)',
    );
    expect(() =>
      loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '4000', HTTP_REQUEST_TIMEOUT_MS: '4000', HTTP_IDLE_TIMEOUT_MS: '30001' }),
    ).not.toThrow();
  });

  it('makes the server exit 1 with a clear message on a bad value', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: '70000' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('invalid configuration');
    expect(run.stderr).toContain('PORT="70000"');
  });

  it('reads the CPU budget from a cgroup quota', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgroup-'));
    writeFileSync(join(dir, 'cpu.max'), '100000 100000\n');
    expect(cpuBudget(join(dir, 'cpu.max'))).toBe(1);
    writeFileSync(join(dir, 'cpu.max'), 'max 100000\n');
    expect(cpuBudget(join(dir, 'cpu.max'))).toBeGreaterThanOrEqual(1);
  });
});
