/**
 * A server-side Connection over a real loopback socket, without a whole server: for tests of the
 * router and of delivery. The client end records what it receives.
 */
import net from 'node:net';
import { once } from 'node:events';
import type { Test } from 'tap';
import { defaultConfig } from '../../src/server/default-config.js';
import { Connection, connectionShared } from '../../src/server/connection.js';
import { createLogger } from '../../src/server/logger.js';
import type { LocalConnections } from '../../src/server/local-connections.js';

export interface ServerSideConnection {
  conn: Connection;
  client: net.Socket;
  /** Everything the client end has read so far. */
  received(): string;
}

/** Opens one connection; with `user`, it is logged in as that member and attached to the router. */
export async function serverSideConnection(
  t: Test, router: LocalConnections, user?: { id: number; username: string },
): Promise<ServerSideConnection> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.teardown(() => client.destroy());
  const [socket] = await accepted;
  server.close(); // one connection each; the accepted socket lives on
  const config = defaultConfig();
  const log = createLogger('silent');
  const conn = new Connection(socket, config, log, async () => {}, connectionShared(config, log));
  router.track(conn);
  if (user) {
    conn.user = { userId: user.id, username: user.username, role: 'member', sessionId: 1, expiresAt: Date.now() + 3_600_000, boundAt: Date.now() };
    router.attach(conn);
  }
  let received = '';
  client.setEncoding('utf8').on('data', (s: string) => { received += s; });
  return { conn, client, received: () => received };
}

export async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
