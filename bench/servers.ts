import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A server in its own process, so the load generator and the server do not share an event loop. */
export class ChildServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  /**
   * `prefix` runs before node, which it must exec with its arguments (a memory cgroup's entry,
   * bench/memory-cgroup.ts).
   */
  static async start(
    script: string,
    env: Record<string, string>,
    readyPath = '/health',
    prefix: string[] = [],
  ): Promise<ChildServer> {
    const port = await freePort();
    // Built JavaScript runs as production does; TypeScript sources need tsx's loader.
    const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
    const [command, ...rest] = [...prefix, process.execPath, ...args];
    const child = spawn(command!, rest, {
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: '0', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await fetch(url + readyPath).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${script} did not become ready`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return new ChildServer(child, url);
  }

  /** For reading its CPU time (bench/cpu.ts). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** A receiver of CloudEvents in its own process (so SIGSTOP freezes it): 202 to every POST. */
export class EventReceiver {
  private child?: ChildProcess;
  private constructor(readonly port: number) {}

  static async start(): Promise<EventReceiver> {
    const receiver = new EventReceiver(await freePort());
    await receiver.restart();
    return receiver;
  }

  async restart(): Promise<void> {
    const script = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => s.writeHead(202).end()); })
      .listen(${this.port}, '127.0.0.1', () => console.log('up'));`;
    this.child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(this.child.stdout!, 'data');
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async kill(): Promise<void> {
    const exited = once(this.child!, 'exit');
    this.child!.kill('SIGKILL');
    await exited;
  }
}
