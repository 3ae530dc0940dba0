// Used only when the service runs from TypeScript sources (vitest, `npm run dev`): loader hooks
// do not reach worker threads on Node 20, so the worker registers tsx itself, then loads the
// real worker. The built service (dist/) starts sink-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./sink-worker.ts');
