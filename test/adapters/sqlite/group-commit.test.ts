/**
 * Group commit (issue 8) as seen from a second connection to the SQLite file: nothing is written
 * while the calls are made, everything is when the first promise settles, and a killed process
 * loses no acknowledged message. (What every store does: test/contract/store/messages.test.ts.)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import type { Message, NewMessage, User } from '../../../src/core/ports/store.js';
import { openStore, seedMembers, tempDir } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function setup(t: Test) {
  const { store, file } = openStore(t);
  const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
  const direct = (subject: string, recipientIds = [bob.id]): NewMessage =>
    ({ senderId: alice.id, audience: 'direct', recipientIds, subject, body: `body of ${subject}` });
  return { store, file, alice, bob, direct };
}

/** A second connection to the same file: it sees only what has been committed. */
function reader(t: Test, file: string): Sqlite.Database {
  const db = new Sqlite(file, { readonly: true });
  t.teardown(() => db.close());
  return db;
}

t.test('200 concurrent messages: all acknowledged, all committed together before the first ack', async (t) => {
  const { store, file, bob, direct } = await setup(t);
  const other = reader(t, file);
  const count = () => other.prepare('SELECT count(*) FROM messages').pluck().get() as number;

  const sends = Array.from({ length: 200 }, (_, i) => store.storeMessage(direct(`m${i}`)));
  t.equal(count(), 0, 'nothing is written while the calls are being made');
  // By the time the first message is acknowledged, its batch (all 200) has committed.
  const seenAtFirstAck = await sends[0]!.then(() => count());
  t.equal(seenAtFirstAck, 200, 'one transaction held all 200 messages');

  const messages = await Promise.all(sends);
  t.equal(new Set(messages.map((m) => m.id)).size, 200, 'every message has its own id');
  t.strictSame(messages.map((m) => m.subject), Array.from({ length: 200 }, (_, i) => `m${i}`), 'each promise got its own message');
  t.ok(messages.every((m) => m.recipients.length === 1 && m.recipients[0]!.userId === bob.id), 'each with its recipient row');
  t.equal(await store.unreadCount(bob.id), 200);
});

t.test('delivery marks for many recipients are one call, committed before it resolves', async (t) => {
  const { store, file, alice } = await setup(t);
  const members = await seedMembers(store, Array.from({ length: 50 }, (_, i) => `m${i}`));
  const message = await store.storeMessage({
    senderId: alice.id, audience: 'list', recipientIds: members.map((m) => m.id), subject: 'all', body: 'b',
  });
  const other = reader(t, file);
  const delivered = () => other.prepare('SELECT count(*) FROM message_recipients WHERE message_id = ? AND delivered_at IS NOT NULL').pluck().get(message.id);
  const marking = store.markDeliveredMany(message.id, members.slice(0, 40).map((m) => m.id));
  t.equal(delivered(), 0, 'not yet written when the call returns');
  await marking;
  t.equal(delivered(), 40, 'all 40 committed when it resolves');
  t.equal((await store.listUndelivered(members[45]!.id, 10)).length, 1, 'the rest are still pending');
  t.equal((await store.listUndelivered(members[5]!.id, 10)).length, 0);
});

t.test('crash after the acks: a killed process loses no acknowledged message', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'siar.db');
  const child = spawn(process.execPath, ['--import=tsx', path.join(here, 'fixtures', 'group-commit-crash.ts'), file, '300'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acknowledged = new Map<number, string>();
  for await (const line of createInterface({ input: child.stdout! })) {
    const [id, subject] = line.split(' ');
    if (id && subject) acknowledged.set(Number(id), subject);
  }
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
    else child.once('exit', (c, s) => resolve([c, s]));
  });
  t.equal(signal, 'SIGKILL', 'the writer died without closing the store');
  t.equal(code, null);
  t.ok(acknowledged.size >= 300, `the writer saw ${acknowledged.size} acks before it died`);

  const store = SqliteStore.open(file);
  t.teardown(() => store.close());
  let missing = 0;
  for (const [id, subject] of acknowledged) {
    const m: Message | null = await store.getMessage(id);
    if (m?.subject !== subject) missing++;
  }
  t.equal(missing, 0, 'every acknowledged message is in the file');
});
