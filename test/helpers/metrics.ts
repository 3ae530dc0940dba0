import type { FastifyInstance } from 'fastify';

/** The value of one series in a Prometheus text scrape, matched by name and a subset of labels. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

export async function scrape(app: FastifyInstance): Promise<string> {
  return (await app.inject('/metrics')).body;
}
