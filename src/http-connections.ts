import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ConnectionLimits {
  /** Requests one connection may have in progress at once (HTTP_MAX_PIPELINED); more wait, unread. */
  maxInProgress: number;
  /** Answer bytes a socket may hold unsent before its next request waits (HTTP_MAX_QUEUED_BYTES). */
  maxQueuedBytes: number;
}

/** One server's connections, and whether their answers may keep them open. */
export interface ConnectionTable {
  open: Set<Connection>;
  keepAlive: boolean;
}

/** One connection's requests: those handed to the app and not yet closed, and those waiting behind them. */
interface Connection {
  table: ConnectionTable;
  socket: Socket;
  limits: ConnectionLimits;
  handler: RequestHandler;
  inProgress: Set<ServerResponse>;
  waiting: [IncomingMessage, ServerResponse][];
  paused: boolean;
}

const CONNECTION = Symbol('connection');
const TABLE = Symbol('connection table');
type Tracked<T> = T & { [CONNECTION]?: Connection };
/**
 * Node pauses a socket itself while its answers back up, and asserts it is not fed data meanwhile:
 * it alone resumes it then.
 */
type NodeSocket = Socket & { _paused?: boolean };

/**
 * Bounds what one connection can make the server hold. Node's HTTP server hands every pipelined
 * request to the app as soon as it is parsed and queues the answers of a client that does not read
 * them without bound: ten such sockets took RSS to 3.8 GB. Here a connection has at most
 * `maxInProgress` requests in the app; further ones wait, unparsed bodies and all, while the socket
 * is not read; and a client that sent more than that again before reading is disconnected, since
 * pausing could not stop it. A socket that then stays silent is closed by HTTP_IDLE_TIMEOUT_MS.
 *
 * Node 20 does not emit 'close' on answers still queued behind the head of a pipeline when the
 * socket closes (Node 24 does): every budget released on 'close' leaked. They are closed here.
 */
export function guardConnections(
  handler: RequestHandler,
  limits: ConnectionLimits,
  table: ConnectionTable = { open: new Set(), keepAlive: true },
): RequestHandler {
  return (req, res) => {
    const socket = req.socket as Tracked<Socket>;
    const connection = socket[CONNECTION] ?? track(table, socket, handler, limits);
    if (connection.waiting.length === 0 && mayStart(connection)) return start(connection, req, res);
    connection.waiting.push([req, res]);
    if (connection.waiting.length > limits.maxInProgress) return void socket.destroy();
    if (!connection.paused) {
      connection.paused = true;
      socket.pause();
    }
  };
}

/**
 * An http.Server whose requests pass the guard: fastify's `serverFactory`, with the settings
 * fastify would apply itself.
 */
export function guardedServer(
  limits: ConnectionLimits,
  options: { http: ServerOptions; keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number },
): (handler: RequestHandler) => Server {
  return (handler) => {
    const table: ConnectionTable = { open: new Set(), keepAlive: true };
    const server: Server & { [TABLE]?: ConnectionTable } = createServer(
      options.http,
      guardConnections(handler, limits, table),
    );
    server[TABLE] = table;
    server.keepAliveTimeout = options.keepAliveTimeout;
    server.requestTimeout = options.requestTimeout;
    server.setTimeout(options.connectionTimeout);
    return server;
  };
}

/**
 * From now on every answer of the server says Connection: close and closes its connection, those
 * being written now included, so clients move to other pods while this one drains (plugins/drain.ts
 * calls it on SIGTERM). Node writes the header itself (`shouldKeepAlive`): no hook runs per request.
 */
export function endKeepAlive(server: Server & { [TABLE]?: ConnectionTable }): void {
  const table = server[TABLE];
  if (!table) return;
  table.keepAlive = false;
  for (const connection of table.open) for (const res of connection.inProgress) res.shouldKeepAlive = false;
}

function track(
  table: ConnectionTable,
  socket: Tracked<Socket>,
  handler: RequestHandler,
  limits: ConnectionLimits,
): Connection {
  const connection: Connection = {
    table,
    socket,
    limits,
    handler,
    inProgress: new Set(),
    waiting: [],
    paused: false,
  };
  socket[CONNECTION] = connection;
  table.open.add(connection);
  socket.on('drain', () => startWaiting(connection));
  // After Node's own listeners: it closes the head of the pipeline itself.
  socket.once('close', () => queueMicrotask(() => closeAll(connection)));
  return connection;
}

function mayStart(connection: Connection): boolean {
  return (
    connection.inProgress.size < connection.limits.maxInProgress &&
    connection.socket.writableLength <= connection.limits.maxQueuedBytes
  );
}

function start(connection: Connection, req: IncomingMessage, res: Tracked<ServerResponse>): void {
  if (!connection.table.keepAlive) res.shouldKeepAlive = false;
  connection.inProgress.add(res);
  res[CONNECTION] = connection;
  res.on('close', onResponseClose); // emitted once; 'once' would wrap the listener on every request
  connection.handler(req, res);
}

function onResponseClose(this: Tracked<ServerResponse>): void {
  const connection = this[CONNECTION]!;
  connection.inProgress.delete(this);
  if (connection.waiting.length > 0) startWaiting(connection);
}

function startWaiting(connection: Connection): void {
  if (connection.socket.destroyed) return;
  while (connection.waiting.length > 0 && mayStart(connection)) {
    const [req, res] = connection.waiting.shift()!;
    start(connection, req, res);
  }
  if (connection.waiting.length === 0 && connection.paused) {
    connection.paused = false;
    if (!(connection.socket as NodeSocket)._paused) connection.socket.resume();
  }
}

/**
 * The socket is gone: waiting requests never reached the app; answers still queued get the 'close'
 * Node 20 does not emit.
 */
function closeAll(connection: Connection): void {
  connection.table.open.delete(connection);
  connection.waiting.length = 0;
  for (const res of connection.inProgress) {
    res.destroy();
    res.emit('close');
  }
}
