import { Redis } from 'ioredis';
import type { LogSink } from '../../core/inference-log/inference-log.js';

/**
 * Appends each record of a batch (ARGV[2..]) to the stream KEYS[1], trimmed to about ARGV[1]
 * entries: one command per batch, where a pipeline of XADDs cost the service's event loop a
 * command object, a timer and a reply per record (bench/README.md, "The inference log").
 */
const XADD_RECORDS = `
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'record', ARGV[i])
end
return #ARGV - 1`;

/** Records per script call: Redis runs a script alone, and 256 records of 600 bytes took it 1.5 ms. */
const LINES_PER_CALL = 256;

type ScriptedRedis = Redis & { xaddRecords(stream: string, maxLength: number, ...lines: string[]): Promise<number> };

/**
 * Records appended to a Redis stream (XADD, trimmed with MAXLEN ~ to about maxLength entries),
 * each entry one field, `record`, holding the JSON line: consumers in any language read it with
 * XREAD or a consumer group. A batch is appended by one Lua script call (EVALSHA, which ioredis
 * falls back to EVAL for when Redis lacks the script). Its own connection, which fails commands
 * at once while Redis is away (no offline queue) and gives up on one after timeoutMs (a frozen
 * Redis): the log counts them failed. Only the first batch waits, up to timeoutMs, for the first
 * connection: the sink thread may be asked to write (at shutdown, say) as soon as it has started.
 */
export class RedisStreamSink implements LogSink {
  readonly name = 'redis';
  private readonly redis: ScriptedRedis;
  /** Until the first connection is up (or timeoutMs): a first batch waits for it rather than fail. */
  private readonly connected: Promise<void>;

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
    }) as ScriptedRedis;
    this.redis.defineCommand('xaddRecords', { numberOfKeys: 1, lua: XADD_RECORDS });
    this.redis.on('error', () => {}); // counted by the log as failed writes; ioredis reconnects
    this.connected = new Promise((resolve) => {
      this.redis.once('ready', resolve);
      setTimeout(resolve, timeoutMs).unref();
    });
  }

  async write(lines: string[]): Promise<void> {
    await this.connected;
    for (let i = 0; i < lines.length; i += LINES_PER_CALL) {
      const chunk = lines.slice(i, i + LINES_PER_CALL);
      const added = await this.redis.xaddRecords(this.stream, this.maxLength, ...chunk);
      if (added !== chunk.length) throw new Error(`redis appended ${added} of ${chunk.length} records`);
    }
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
