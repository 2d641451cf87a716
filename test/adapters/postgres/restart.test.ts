/**
 * PostgreSQL restarts under a running node (issue 19): while it is down every SEND answers BUSY with
 * a sentence, never a crash or a hang; nothing the node acknowledged is lost; once it is back the
 * node carries on by itself (the pool drops its dead connections and opens new ones). A connection
 * the store holds (a transaction, the group commit) when PostgreSQL goes away does not crash the
 * process: node-postgres emits 'error' on a checked-out client, which must be heard.
 *
 * A private PostgreSQL in a temp dir (scripts/services.ts), so restarting it disturbs no other test
 * file; without PostgreSQL installed the file is skipped, except under CI.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { connect, createPool } from '../../../src/adapters/postgres/connection.js';
import { RemoteError } from '../../../src/client/connection.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { postgresBinDir, startPostgres, type RunningService } from '../../../scripts/services.js';
import { requireCapability } from '../../helpers/capability.js';
import { startServer, until } from '../../helpers/siar.js';

t.setTimeout(240_000);

const missing = (): string | false => postgresBinDir() ? false : 'PostgreSQL is not installed (apt-get install postgresql)';

/** One private PostgreSQL for the file, stopped after everything else (the servers' teardowns) has run. */
let shared: Promise<RunningService> | undefined;
function privatePostgres(): Promise<RunningService> {
  shared ??= (async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'siar-pg-restart-'));
    const pg = await startPostgres(path.join(dir, 'pg'), { fast: true });
    t.teardown(async () => { await pg.stop(); rmSync(dir, { recursive: true, force: true }); });
    return pg;
  })();
  return shared;
}

t.test('a connection held from the pool when PostgreSQL stops does not crash the process; the pool recovers', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', missing())) return;
  const pg = await privatePostgres();
  const pool = createPool(pg.url, { connectTimeoutMs: 2000 });
  t.teardown(() => pool.end());
  const held = await connect(pool);
  await held.query('SELECT 1');
  await pg.stop();
  await sleep(200); // the server's goodbye reaches the held client: 'error' on it, heard
  await t.rejects(held.query('SELECT 1'), 'the held client is dead');
  held.release();
  await t.rejects(pool.query('SELECT 1'), 'nothing answers while it is down');
  await pg.start();
  const r = await pool.query<{ n: number }>('SELECT 2 AS n');
  t.equal(r.rows[0]!.n, 2, 'a fresh connection once it is back');
  t.equal(pool.totalCount, 1, 'the dead one was discarded, not reused');
});

t.test('PostgreSQL restarted mid-traffic: BUSY with a sentence meanwhile, nothing acknowledged lost, the node recovers by itself', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', missing())) return;
  const pg = await privatePostgres();
  const s = await startServer(t, { store: pg.url });
  const { password } = await s.member('bob');
  const alice = await s.memberClient('alice');

  const acknowledged: number[] = [];
  const refusals: RemoteError[] = [];
  let phase = 'before' as 'before' | 'down' | 'after';
  let sending = true;
  let afterOks = 0;
  const loop = (async () => {
    for (let i = 0; sending; i++) {
      try {
        const sent = await alice.send({ to: ['bob'], subject: `m${i}` });
        acknowledged.push(sent.id);
        if (phase === 'after') afterOks++;
      } catch (err) {
        if (!(err instanceof RemoteError)) throw err;
        refusals.push(err);
        await sleep(50);
      }
    }
  })();

  const t0 = Date.now();
  await until('traffic', () => acknowledged.length >= 20, 30_000);
  await pg.stop();
  phase = 'down';
  const t1 = Date.now();
  await until('a refusal while it is down', () => refusals.length >= 3, 30_000);
  const t2 = Date.now();
  await pg.start();
  phase = 'after';
  const t3 = Date.now();
  await until('sends go through again', () => afterOks >= 20, 60_000);
  t.comment(`traffic ${t1 - t0} ms, refusals ${t2 - t1} ms, restart ${t3 - t2} ms, recovery ${Date.now() - t3} ms`);
  sending = false;
  await loop;

  t.ok(refusals.length >= 3, `${refusals.length} sends refused while PostgreSQL was down`);
  for (const e of new Set(refusals.map((r) => `${r.code}: ${r.message}`))) {
    t.match(e, /^BUSY: The server cannot reach its database right now; try again shortly\.$/, 'a clear sentence');
  }
  // Every acknowledged message is stored and reaches bob: at his next login, all of them.
  const bob = await s.client();
  const popups = new Set<number>();
  bob.on('push', (e, a) => { if (e === 'POPUP') popups.add(Number(a.get('id'))); });
  await bob.login('bob', password);
  const stored = new Set<number>();
  for (let before: number | undefined; ;) {
    const page = await bob.inbox({ limit: 100, before });
    for (const m of page.messages) stored.add(m.id);
    if (page.messages.length < 100) break;
    before = page.messages[page.messages.length - 1]!.id;
  }
  t.same(acknowledged.filter((id) => !stored.has(id)), [], `all ${acknowledged.length} acknowledged messages are in the inbox`);
  t.equal(new Set(acknowledged).size, acknowledged.length, 'each acknowledged once');
  await until('the popups at login', () => acknowledged.every((id) => popups.has(id)), 30_000);
  t.pass('bob, offline meanwhile, gets a popup for every acknowledged message at his next login');
});
