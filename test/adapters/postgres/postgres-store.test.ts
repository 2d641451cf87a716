/**
 * What only the PostgreSQL store does (what every store does is in test/contract/store/): its
 * schema migrations under an advisory lock, BIGINT and timestamptz read back as the SQLite store
 * returns them, errors mapped to StoreError conflict and busy, group commit seen from another
 * connection, several stores (nodes) on one database, and a backup that names pg_dump.
 * Runs on the server at SIAR_TEST_PG_URL or a private one (test/contract/store/adapters.ts).
 */
import pg from 'pg';
import t, { type Test } from 'tap';
import { applyPgMigrations, PG_SCHEMA_VERSION } from '../../../src/adapters/postgres/migrate.js';
import { createPool } from '../../../src/adapters/postgres/connection.js';
import { storeError } from '../../../src/adapters/postgres/errors.js';
import { PostgresStore } from '../../../src/adapters/postgres/postgres-store.js';
import { StoreError, isStoreError, type Store, type User } from '../../../src/core/ports/store.js';
import { freeLoopbackPort } from '../../../scripts/services.js';
import { requireCapability } from '../../helpers/capability.js';
import { freshPostgresDatabase, openPostgresStore, postgresMissing } from '../../contract/store/adapters.js';
import { adminOf, credentialsMail, registration, seedMembers } from '../../contract/store/fixtures.js';

/** A plain connection to the same database, for looking behind the store's back. */
async function rawClient(t: Test, url: string): Promise<pg.Client> {
  const client = new pg.Client(url);
  client.on('error', () => {}); // the database is dropped WITH (FORCE) at the end
  await client.connect();
  t.teardown(() => client.end().catch(() => {}));
  return client;
}

async function count(client: pg.Client, sql: string): Promise<number> {
  return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
}

const caught = async (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

if (requireCapability(t, 'PostgreSQL', postgresMissing())) {
  t.test('nodes starting at once apply the schema once; a newer schema is refused', async (t) => {
    const url = await freshPostgresDatabase(t, { empty: true });
    const stores = await Promise.all(Array.from({ length: 5 }, () => openPostgresStore(url)));
    t.equal(stores.length, 5, 'every node opened');
    const raw = await rawClient(t, url);
    t.strictSame((await raw.query('SELECT version FROM siar_schema_migrations ORDER BY version')).rows,
      Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => ({ version: i + 1 })), 'each section once');
    t.equal(PG_SCHEMA_VERSION, 9, 'the attachment content tables are the third section, the alerts (issue 21) the fourth to eighth, the audience snapshots the ninth');
    await stores[0]!.ensureAdmin('h');
    t.equal(await stores[4]!.ensureAdmin('h'), false, 'they share one database');

    await raw.query('INSERT INTO siar_schema_migrations (version) VALUES (99)');
    const refused = await caught(PostgresStore.open(url));
    t.match(refused, { message: new RegExp(`schema version 99, but this siar only knows up to ${PG_SCHEMA_VERSION}`) });
  });

  t.test('a migration that fails leaves the database as it was', async (t) => {
    const url = await freshPostgresDatabase(t, { empty: true });
    const pool = createPool(url);
    t.teardown(() => pool.end());
    await t.rejects(applyPgMigrations(pool, [
      { version: 1, sql: 'CREATE TABLE first_part (x int)' },
      { version: 2, sql: 'CREATE TABLE broken (' },
    ]), /syntax error/);
    const raw = await rawClient(t, url);
    t.equal(await count(raw, `SELECT count(*) AS n FROM pg_tables WHERE tablename IN ('first_part', 'siar_schema_migrations')`), 0);
    t.strictSame(await applyPgMigrations(pool, [{ version: 1, sql: 'CREATE TABLE first_part (x int)' }]), { from: 0, to: 1 });
    t.strictSame(await applyPgMigrations(pool, [{ version: 1, sql: 'CREATE TABLE first_part (x int)' }]), { from: 1, to: 1 }, 'once');
  });

  t.test('ids past 32 bits are numbers; past 2^53 they are refused, not rounded', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url);
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    const raw = await rawClient(t, url);
    await raw.query('ALTER TABLE messages ALTER COLUMN id RESTART WITH 5000000000');
    const m = await store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 's', body: 'b' });
    t.equal(m.id, 5_000_000_000);
    t.equal((await store.getMessage(m.id))?.id, 5_000_000_000);
    t.strictSame((await store.inbox(bob.id, { limit: 5, beforeId: 5_000_000_001 })).map((e) => e.id), [5_000_000_000]);
    await raw.query(`ALTER TABLE messages ALTER COLUMN id RESTART WITH ${2 ** 53 + 2}`);
    await t.rejects(store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 's', body: 'b' }), RangeError);
  });

  t.test('times written with microseconds or another zone read back as millisecond UTC ISO strings', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url);
    const raw = await rawClient(t, url);
    await raw.query(`SET TimeZone = 'America/New_York'`);
    await raw.query(`INSERT INTO mail_queue (kind, to_address, subject, sealed_text, created_at, next_attempt_at)
                     VALUES ('k', 'a@example.org', 's', 't', '2026-03-04 05:06:07.123456-05', '2026-03-04 05:06:07.9')`);
    const [mail] = await store.listMail('all', { limit: 1 });
    t.equal(mail?.createdAt, '2026-03-04T10:06:07.123Z');
    t.equal(mail?.nextAttemptAt, '2026-03-04T10:06:07.900Z');
  });

  t.test('a broken uniqueness rule is a conflict StoreError on its field', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url);
    await seedMembers(store, ['alice']);
    await store.createRegistration(registration('bob'));
    const raw = await rawClient(t, url);
    const insertUser = (name: string, email: string) => caught(raw.query(
      `INSERT INTO users (username, role, password_hash, email, created_at) VALUES ($1, 'member', 'x', $2, now())`, [name, email]));
    const insertRequest = (name: string, email: string) => caught(raw.query(
      `INSERT INTO registration_requests (institution, contact, email, username, created_at) VALUES ('i', 'c', $1, $2, now())`, [email, name]));
    const field = (err: unknown) => { const mapped = storeError(err); return isStoreError(mapped, 'conflict') ? mapped.failure.field : mapped; };
    t.equal(field(await insertUser('alice', 'new@example.org')), 'username');
    t.equal(field(await insertUser('other', 'alice@example.org')), 'email');
    t.equal(field(await insertRequest('bob', 'new@example.org')), 'username');
    t.equal(field(await insertRequest('new', 'bob@example.org')), 'email');
    const other = await caught(raw.query(`INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ('t', 1, now(), now()), ('t', 1, now(), now())`));
    t.equal(storeError(other), other, 'other unique rules are left as they are');
  });

  t.test('approving is refused when a user with the e-mail was written behind the store\'s back', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url);
    const admin = await adminOf(store);
    const bob = await store.createRegistration(registration('bob'));
    const raw = await rawClient(t, url);
    await raw.query(`INSERT INTO users (username, role, password_hash, email, created_at) VALUES ('robert', 'member', 'x', 'bob@example.org', now())`);
    await t.rejects(
      store.approveRegistration({ requestId: bob.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail(bob) }),
      { name: 'StoreError', kind: 'conflict', failure: { field: 'email' } },
    );
    t.equal((await store.getRegistration(bob.id))?.status, 'pending');
    const loneUrl = await freshPostgresDatabase(t);
    const lone = await openPostgresStore(loneUrl);
    const rawLone = await rawClient(t, loneUrl);
    await rawLone.query(`INSERT INTO users (username, role, password_hash, created_at) VALUES ('admin', 'member', 'x', now())`);
    await t.rejects(lone.ensureAdmin('h'), /username "admin" belongs to a member/);
  });

  t.test('a lock held too long is a busy StoreError (contention), for messages and transactions alike; then work goes on', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url, { lockTimeoutMs: 300 });
    const admin = await adminOf(store);
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    const pending = await store.createRegistration(registration('carol'));
    const raw = await rawClient(t, url);
    await raw.query('BEGIN');
    await raw.query('LOCK TABLE message_recipients IN ACCESS EXCLUSIVE MODE');
    await raw.query('SELECT * FROM registration_requests WHERE id = $1 FOR UPDATE', [pending.id]);
    const started = Date.now();
    const sends = await Promise.allSettled(Array.from({ length: 5 }, (_, i) =>
      store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: `s${i}`, body: 'b' })));
    const approving = await caught(store.approveRegistration({ requestId: pending.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail(pending) }));
    t.ok(Date.now() - started < 10_000, 'refused after the lock timeout, not left waiting');
    for (const s of sends) {
      t.equal(s.status, 'rejected');
      if (s.status === 'rejected') {
        t.ok(s.reason instanceof StoreError, String(s.reason));
        t.match(s.reason, { kind: 'busy', failure: { reason: 'contention' }, message: /The database is busy .*55P03.*nothing was changed/ });
      }
    }
    t.match(approving, { kind: 'busy' }, String(approving));
    await raw.query('ROLLBACK');
    t.strictSame(await store.outbox(alice.id, { limit: 10 }), [], 'nothing of the refused messages was stored');
    t.equal((await store.getRegistration(pending.id))?.status, 'pending');
    t.equal((await store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'after', body: 'b' })).subject, 'after');
    t.equal((await store.approveRegistration({ requestId: pending.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail(pending) })).request.status, 'approved');
  });

  t.test('a server that cannot be reached is a busy StoreError (unavailable); lost connections are replaced', async (t) => {
    const port = await freeLoopbackPort();
    const refused = await caught(PostgresStore.open(`postgres://siar:x@127.0.0.1:${port}/siar`, { connectTimeoutMs: 2000 }));
    t.ok(refused instanceof StoreError, String(refused));
    t.match(refused, { kind: 'busy', failure: { reason: 'unavailable' }, message: /cannot be reached/ });

    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url);
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    const raw = await rawClient(t, url);
    const killed = await raw.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                    WHERE datname = current_database() AND application_name = 'siar'`);
    t.ok(killed.rowCount! > 0, 'the store\'s connections were terminated');
    // The first statement on a dead connection may fail (busy); the pool then connects afresh.
    let attempt = await caught(store.getUserById(alice.id));
    if (attempt !== undefined) {
      t.ok(isStoreError(attempt, 'busy'), `a lost connection is a busy StoreError: ${String(attempt)}`);
      attempt = await caught(store.getUserById(alice.id));
    }
    t.equal(attempt, undefined, 'reads work again');
    const after = await store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'after', body: 'b' })
      .catch(() => store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'after', body: 'b' }));
    t.equal(after.subject, 'after', 'and so do writes');
  });

  t.test('group commit seen from another connection: nothing while the calls are made, all at the first ack', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url);
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    const raw = await rawClient(t, url);
    const sends = Array.from({ length: 200 }, (_, i) =>
      store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: `m${i}`, body: 'b' }));
    t.equal(await count(raw, 'SELECT count(*) AS n FROM messages'), 0, 'nothing is committed while the calls are being made');
    const seenAtFirstAck = await sends[0]!.then(() => count(raw, 'SELECT count(*) AS n FROM messages'));
    t.equal(seenAtFirstAck, 200, 'one transaction held all 200');
    await Promise.all(sends);
    // The row is held by the other connection, so the mark cannot commit before the count is read
    // (counting right after the call raced the group commit on a busy machine).
    const id = (await sends[5]!).id;
    await raw.query('BEGIN');
    await raw.query(`SELECT 1 FROM message_recipients WHERE message_id = ${id} FOR UPDATE`);
    const marking = store.markDeliveredMany(id, [bob.id]);
    await new Promise((r) => setTimeout(r, 50));
    t.equal(await count(raw, 'SELECT count(*) AS n FROM message_recipients WHERE delivered_at IS NOT NULL'), 0, 'not committed before it resolves');
    await raw.query('COMMIT');
    await marking;
    t.equal(await count(raw, 'SELECT count(*) AS n FROM message_recipients WHERE delivered_at IS NOT NULL'), 1, 'committed when it resolves');
  });

  t.test('the group commit has a connection of its own: a SEND commits while every read connection is busy (issue 19)', async (t) => {
    // Under cross-node traffic the reads filled the pool, and every batch (each SEND's OK, each
    // delivery mark) waited for a connection behind them. Here every read connection waits on a lock
    // held by another client, for as long as the test likes: the message must commit meanwhile.
    const url = await freshPostgresDatabase(t);
    const store = await openPostgresStore(url, { lockTimeoutMs: 120_000 });
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    const raw = await rawClient(t, url);
    await raw.query('BEGIN');
    await raw.query('LOCK TABLE attachments IN ACCESS EXCLUSIVE MODE');
    let settled = 0;
    // More reads than the pool holds connections (10): the pool is full, and reads queue for it.
    const reads = Array.from({ length: 15 }, (_, i) => store.getAttachment(i + 1).finally(() => { settled++; }));
    const stored = await store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'past the reads', body: 'b' });
    await store.markDeliveredMany(stored.id, [bob.id]);
    t.equal(settled, 0, 'every read was still waiting for the lock (or for a connection)');
    t.equal(await count(raw, `SELECT count(*) AS n FROM message_recipients WHERE message_id = ${stored.id} AND delivered_at IS NOT NULL`), 1,
      'the message and its delivery mark were committed meanwhile');
    await raw.query('ROLLBACK');
    t.same(await Promise.all(reads), Array.from({ length: 15 }, () => null), 'the reads answer once the lock is gone');
  });

  t.test('two nodes on one database: each sees the other\'s writes at once, and messages share one numbering', async (t) => {
    const url = await freshPostgresDatabase(t);
    const [a, b] = [await openPostgresStore(url), await openPostgresStore(url)];
    const [alice, bob] = (await seedMembers(a, ['alice', 'bob'])) as [User, User];
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const session = await a.createSession({ userId: alice.id, tokenHash: 'tok', address: null, expiresAt });
    t.strictSame(await b.findSession('tok'), session);
    t.equal((await b.getUserById(bob.id))?.status, 'active', 'read on b first');
    await a.setUserStatus(bob.id, 'suspended');
    await a.closeSession(session.id);
    t.equal((await b.getUserById(bob.id))?.status, 'suspended', 'a suspension on a shows on b');
    t.equal(await b.findSession('tok'), null, 'a logout on a shows on b');
    t.strictSame((await b.resolveActiveMembers(['bob'])).missing, ['bob']);
    await a.setUserStatus(bob.id, 'active');

    const send = (store: PostgresStore, i: number) =>
      store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: `${store === a ? 'a' : 'b'}${i}`, body: 'x' });
    const stored = await Promise.all(Array.from({ length: 50 }, (_, i) => [send(a, i), send(b, i)]).flat());
    t.equal(new Set(stored.map((m) => m.id)).size, 100, 'one numbering for both nodes');
    t.equal((await a.inbox(bob.id, { limit: 200 })).length, 100);
    t.equal((await b.inbox(bob.id, { limit: 200 })).length, 100);
  });

  t.test('no file backup: the store says to use pg_dump (a file copy is not a consistent PostgreSQL backup)', async (t) => {
    const url = await freshPostgresDatabase(t);
    const store: Store = await openPostgresStore(url);
    t.equal(store.backup, undefined, 'no backup capability');
    const advice = store.backupAdvice ?? '';
    t.match(advice, /pg_dump --format=custom --serializable-deferrable --file=siar-[0-9T-]+Z\.dump '.*'.*pg_restore --exit-on-error --no-owner/);
    const password = new URL(url).password;
    if (password) t.notOk(advice.includes(password), 'the password is never in the advice');
  });
}
