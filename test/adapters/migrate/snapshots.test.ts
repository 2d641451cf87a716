/**
 * `siar migrate` and audience snapshots (issue 19): a data directory whose last server stopped
 * between a large audience's commit and the writing of its recipient rows holds a snapshot, not
 * rows. The migration copies the snapshot as it is (verified like every table), and the PostgreSQL
 * store materialises it: every recipient has the message, owed at its next login.
 * A real SQLite file in a temp dir and a real PostgreSQL (SIAR_TEST_PG_URL or a private one).
 */
import path from 'node:path';
import t from 'tap';
import { migrateToPostgres } from '../../../src/adapters/migrate/sqlite-to-postgres.js';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import { AUDIENCE_SNAPSHOT_ABOVE, type User } from '../../../src/core/ports/store.js';
import { freshPostgresDatabase, openPostgresStore, postgresMissing } from '../../contract/store/adapters.js';
import { seedMembers } from '../../contract/store/fixtures.js';
import { requireCapability } from '../../helpers/capability.js';
import { tempDir } from '../../helpers/siar.js';

t.test('a snapshot left unmaterialised is migrated, and every recipient gets the message from PostgreSQL', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const dataDir = tempDir(t, 'siar-migrate-snapshot-');
  // The store stays open, as a killed server's would: closing it would write the rows.
  const source = SqliteStore.open(path.join(dataDir, 'siar.db'));
  t.teardown(() => source.close());
  const [sender, ...recipients] = (await seedMembers(source, ['sender', ...Array.from({ length: AUDIENCE_SNAPSHOT_ABOVE + 1 }, (_, i) => `r${i}`)])) as [User, ...User[]];
  const message = await source.storeMessage({
    senderId: sender.id, audience: 'all', recipientIds: recipients.map((r) => r.id), subject: 'left as a snapshot', body: 'b',
  });
  t.equal(message.recipientRowsPending, true);

  const url = await freshPostgresDatabase(t, { empty: true });
  const report = await migrateToPostgres({ dataDir, url });
  t.equal(report.ok, true, 'copied and verified');
  t.match(report.tables.find((x) => x.table === 'message_audiences'), { sourceRows: 1, targetRows: 1, ok: true });
  t.match(report.tables.find((x) => x.table === 'message_recipients'), { sourceRows: 0, targetRows: 0 });

  const target = await openPostgresStore(url);
  t.equal(await target.materialiseSnapshots(), 1, 'the start-up job writes its rows');
  for (const r of recipients) {
    t.strictSame((await target.listUndelivered(r.id, 10)).map((m) => m.id), [message.id], `${r.username}: at its next login`);
  }
  t.equal((await target.getMessage(message.id))?.recipients.length, recipients.length, 'the sender sees every recipient');
});
