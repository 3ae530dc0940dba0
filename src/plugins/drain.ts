import fp from 'fastify-plugin';
import { endKeepAlive } from '../http-connections.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** True from SIGTERM (or close()) on: /ready answers 503 and every answer says Connection: close. */
    readonly draining: boolean;
    /** Starts the drain while the listener still serves (src/shutdown.ts calls it on SIGTERM). */
    startDraining(): void;
  }
}

/**
 * The drain state. Each keep-alive connection is closed after its next answer (Connection: close,
 * written by Node: http-connections.ts's endKeepAlive), so clients move to new connections (which
 * Kubernetes sends to other pods once this one's endpoint is removed) and none is left idle to be
 * reset when the listener closes.
 */
export default fp(
  async (app) => {
    let draining = false;
    app.decorate('draining', {
      getter: () => draining,
    });
    const start = () => {
      draining = true;
      endKeepAlive(app.server);
    };
    app.decorate('startDraining', start);
    app.addHook('preClose', async () => start());
  },
  { name: 'drain' },
);
