import { Redis } from 'ioredis';
import type { LogSink } from '../../core/inference-log/inference-log.js';

/**
 * Records appended to a Redis stream (XADD, trimmed with MAXLEN ~ to about maxLength entries),
 * each entry one field, `record`, holding the JSON line: consumers in any language read it with
 * XREAD or a consumer group. Its own connection, which fails commands at once while Redis is
 * away (no offline queue) and gives up on one after timeoutMs (a frozen Redis): the log counts
 * them failed.
 */
export class RedisStreamSink implements LogSink {
  readonly name = 'redis';
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly stream: string,
    private readonly maxLength: number,
    timeoutMs: number,
  ) {
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      lazyConnect: false,
    });
    this.redis.on('error', () => {}); // counted by the log as failed writes; ioredis reconnects
  }

  async write(lines: string[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const line of lines) pipeline.xadd(this.stream, 'MAXLEN', '~', this.maxLength, '*', 'record', line);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed || results.length !== lines.length) throw failed?.[0] ?? new Error('redis pipeline incomplete');
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Every record of a stream, oldest first, read in pages of 1,000 entries (XRANGE). */
export async function* readStreamRecords(url: string, stream: string): AsyncGenerator<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let start = '-';
    for (;;) {
      const page = await redis.xrange(stream, start, '+', 'COUNT', 1000);
      for (const [, fields] of page) {
        const at = fields.indexOf('record');
        if (at >= 0 && fields[at + 1] !== undefined) yield fields[at + 1]!;
      }
      if (page.length < 1000) return;
      start = `(${page.at(-1)![0]}`;
    }
  } finally {
    redis.disconnect();
  }
}
