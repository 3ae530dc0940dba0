/**
 * Every route fastify has, read from `app.printRoutes({ commonPrefix: false })`: a tree whose
 * lines are `├── /segment (GET, HEAD)`, each segment continuing its parent's path.
 */
export function routesOf(printed: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const parents: string[] = [];
  for (const line of printed.split('\n')) {
    const match = /^([│ ├└─]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    parents.length = depth;
    const path = parents.join('') + match[2]!;
    parents.push(match[2]!);
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path });
  }
  return routes;
}

/** fastify's path as OpenAPI writes it: /v2/models/:model -> /v2/models/{model}. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

interface Document {
  paths: Record<string, Record<string, { summary?: string; responses: Record<string, unknown> }>>;
}

/**
 * The routes the document leaves out, or describes without a summary or without their error
 * responses (a route declared without our schema still appears, with a "Default Response" only).
 * HEAD routes are fastify's own copies of the GETs; /docs/* is Swagger UI's own pages and assets.
 */
export function undocumented(routes: { method: string; path: string }[], doc: Document): string[] {
  return routes
    .filter(({ method, path }) => method !== 'HEAD' && path !== '/docs' && !path.startsWith('/docs/'))
    .filter(({ method, path }) => {
      const operation = doc.paths[openApiPath(path)]?.[method.toLowerCase()];
      return !operation?.summary || !operation.responses['500'];
    })
    .map(({ method, path }) => `${method} ${path}`);
}
