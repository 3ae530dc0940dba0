import { readFileSync } from 'node:fs';

/** The package's own name and version (OIP server metadata, `--version`, the traces' service.version). */
export const packageInfo = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};
