import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * The real server as a child process, on a port the OS picks: src/server.ts through tsx, or the
 * Node arguments given (another build's dist/server.js: test/differential).
 */
export class ServerProcess {
  readonly logs: Record<string, unknown>[] = [];
  stderr = '';
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(
    env: Record<string, string>,
    args: string[] = ['--import', 'tsx', 'src/server.ts'],
  ): Promise<ServerProcess> {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, HOST: '127.0.0.1', PORT: '0', GRPC_PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const url = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk) => {
        buffered += String(chunk);
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.msg));
          if (match) resolve(match[1]!);
        }
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${stderr}`)));
    });
    const server = new ServerProcess(child, url);
    Object.assign(server, { logs });
    child.stderr.on('data', (chunk) => (server.stderr += String(chunk)));
    return server;
  }

  async waitUntilReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const response = await fetch(`${this.url}/ready`).catch(() => undefined);
      if (response?.status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('server did not become ready');
  }

  /** Sends a signal and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const [code] = await exited;
    return code as number | null;
  }
}
