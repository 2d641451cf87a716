/**
 * The round trips to PostgreSQL a direct SEND costs (issue 19, bench scenario 10: under cross-node
 * load each one waits for one of the node's pooled connections). Counted, not timed: every statement
 * node-postgres sends while the server runs one connection's frames is recorded (an
 * AsyncLocalStorage context around that connection's frame handler, which the group commit's batch
 * inherits), so the server's timers (due jobs, mail) are not counted.
 *
 * A SEND used to read the sender's session and member and the recipient's id before its
 * transaction: three round trips, then BEGIN, the statements and COMMIT. Now a connection that
 * logged in reads neither its session nor its member again, and a recipient named before is not
 * looked up again (src/server/account-cache.ts): nothing but the storing transaction. A connection
 * using a token it did not log in with reads the session and member once.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import t, { type Test } from 'tap';
import type { SiarClient } from '../../../src/client/connection.js';
import type { Connection } from '../../../src/server/connection.js';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { requireCapability } from '../../helpers/capability.js';
import { startServer } from '../../helpers/siar.js';

t.setTimeout(120_000);

const counted = new AsyncLocalStorage<string[]>();

/** Records the statements sent in a counted context: a prepared one by its name, others by their text. */
function countStatements(t: Test): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const real = proto.query;
  proto.query = function query(this: unknown, ...args: unknown[]) {
    const log = counted.getStore();
    if (log) {
      const q = args[0] as string | { name?: string; text: string };
      log.push(typeof q === 'string' ? q : q.name || q.text);
    }
    return real.apply(this, args);
  };
  t.teardown(() => { proto.query = real; });
}

/** The server's side of a client's connection: its frames run in a context whose statements go to `log`. */
function watch(conn: Connection | undefined, log: string[]): void {
  if (!conn) throw new Error('no such connection on the server');
  const target = conn as unknown as { onLine: (c: Connection, line: string) => Promise<void> };
  const handler = target.onLine;
  target.onLine = (c, line) => counted.run(log, () => handler(c, line));
}

/** The statements of one SEND: those before its transaction (reads) and the transactions. */
async function sendCounted(client: SiarClient, log: string[], to: string, token?: string): Promise<{ reads: string[]; transactions: number; all: string[] }> {
  log.length = 0;
  await client.request('SEND', { to, subject: 'counted' }, token);
  const all = [...log];
  let depth = 0;
  let transactions = 0;
  const reads: string[] = [];
  for (const s of all) {
    if (s === 'BEGIN') { depth++; transactions++; continue; }
    if (s === 'COMMIT' || s === 'ROLLBACK') { depth--; continue; }
    if (depth === 0) reads.push(s);
  }
  return { reads, transactions, all };
}

t.test('a direct SEND on PostgreSQL: only its storing transaction once the session, member and recipient are known', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const store = await freshPostgresDatabase(t, { empty: true });
  const s = await startServer(t, { store });
  await s.member('bob');
  await s.member('carol');
  const alice = await s.memberClient('alice');
  countStatements(t);
  const log: string[] = [];
  watch(s.server.router.local.connections().find((c) => c.user?.username === 'alice'), log);

  const first = await sendCounted(alice, log, 'bob');
  t.strictSame(first.reads, ['siar.activeMembersNamed'], 'the first SEND to bob looks bob up, and reads nothing of alice (LOGIN kept it)');
  t.equal(first.transactions, 1, 'one storing transaction');
  for (let i = 0; i < 5; i++) {
    const next = await sendCounted(alice, log, 'bob');
    t.strictSame(next.reads, [], `SEND ${i + 2} to bob reads nothing before its transaction`);
    t.equal(next.transactions, 1);
    if (i === 0) t.comment(`a direct SEND's round trips to PostgreSQL: ${next.all.length} (${next.all.join(', ')})`);
  }
  const two = await sendCounted(alice, log, 'bob,carol');
  t.strictSame(two.reads, ['siar.activeMembersNamed'], 'a list with one name not seen yet: one lookup');
  const again = await sendCounted(alice, log, 'carol,bob');
  t.strictSame(again.reads, [], 'both known now: none');

  // A connection that did not log in with the token: the session and member are read once, then kept.
  const before = new Set(s.server.router.local.connections());
  const other = await s.client();
  await other.request('PING');
  watch(s.server.router.local.connections().find((c) => !before.has(c)), log);
  const borrowed = await sendCounted(other, log, 'bob', alice.token);
  t.strictSame(borrowed.reads, ['siar.openSessionByToken', 'siar.userById'], 'another connection with alice\'s token reads her session and member once');
  const kept = await sendCounted(other, log, 'bob', alice.token);
  t.strictSame(kept.reads, [], 'and then keeps them');
});

t.test('--store-pool-size is the size of the node\'s pool of PostgreSQL connections', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const store = await freshPostgresDatabase(t, { empty: true });
  const sized = await startServer(t, { store, storePoolSize: 3 });
  const pool = (sized.server.store as unknown as { pool: pg.Pool }).pool;
  t.equal(pool.options.max, 3);
  const usual = await startServer(t, { store });
  t.equal((usual.server.store as unknown as { pool: pg.Pool }).pool.options.max, 10, 'by default, 10');
});
