import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** True from SIGTERM (or close()) on: /ready answers 503 and every answer says Connection: close. */
    readonly draining: boolean;
    /** Starts the drain while the listener still serves (src/shutdown.ts calls it on SIGTERM). */
    startDraining(): void;
  }
}

/**
 * The drain state. Each keep-alive connection is closed after its next answer, so clients move
 * to new connections (which Kubernetes sends to other pods once this one's endpoint is removed)
 * and none is left idle to be reset when the listener closes.
 */
export default fp(
  async (app) => {
    let draining = false;
    app.decorate('draining', {
      getter: () => draining,
    });
    app.decorate('startDraining', () => {
      draining = true;
    });
    app.addHook('preClose', async () => {
      draining = true;
    });
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (draining) reply.header('connection', 'close');
      done(null, payload);
    });
  },
  { name: 'drain' },
);
