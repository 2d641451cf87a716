/**
 * Crash safety (issue 7 §5): a real `siar server` process is killed with SIGKILL at a random
 * moment while members send messages, broadcasts and attachments (real UPLOADs over shadow
 * sockets), then restarted on the same data dir and port; the members reconnect, resume their
 * interrupted uploads and carry on. After the last restart every member finishes its unfinished
 * message and the run is checked:
 *
 *   - every message acknowledged to its sender (SEND OK) is in the database, once, and ends 'sent';
 *   - nothing is half-delivered: a stored message has exactly its intended recipient rows when
 *     'sent' and none otherwise; every committed attachment's file exists and hashes to its sha256;
 *   - every recipient has exactly one inbox row per message addressed to it, and its popup: at
 *     least once on the wire, never twice within one server life; a popup written just before a
 *     kill whose "delivered" mark had not committed is written again after the restart (counted
 *     and reported; the clients — `siar listen`, the TUI — show a message id once);
 *   - no file is left in <data>/tmp, no content file without an attachment row, and the live
 *     shadow listeners and transfers are back to 0.
 *
 * CI runs 3 kills with 12 members; the long loop: SIAR_CRASH_KILLS=20 SIAR_CRASH_CLIENTS=100
 * (SIAR_CRASH_SEED replays a run's choices; the seed is printed).
 */
import path from 'node:path';
import t from 'tap';
import type { SiarClient } from '../../src/client/connection.js';
import { tempDir } from '../helpers/siar.js';
import {
  CrashClient, Ledger, adminClient, checkPopups, checkStore, inboxCounts, makeFilePool, orphanFiles, randomInt,
  readStoredMessages, seededRandom, unresumableTmpFiles, type Generation,
} from './faults.js';
import { ChildServer, freePort, seedMembers, sleep, waitFor } from './helpers.js';

const KILLS = Number(process.env.SIAR_CRASH_KILLS ?? 3);
const CLIENTS = Number(process.env.SIAR_CRASH_CLIENTS ?? (KILLS > 3 ? 100 : 12));
const SEED = Number(process.env.SIAR_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PASSWORD = 'crash-password-0123456789';
// Generous: the machine may be loaded well beyond its cores; nothing below measures speed.
const LONG = 240_000;

t.setTimeout(Math.max(300_000, KILLS * 90_000 + 300_000));

t.test(`SIGKILL ${KILLS}× under load from ${CLIENTS} members loses and doubles nothing (seed ${SEED})`, async (t) => {
  const rnd = seededRandom(SEED);
  const root = tempDir(t, 'siar-crash-');
  const dataDir = path.join(root, 'data');
  const usernames = Array.from({ length: CLIENTS }, (_, i) => `crash${String(i).padStart(3, '0')}`);
  await seedMembers(dataDir, usernames, PASSWORD);
  const files = await makeFilePool(root, 12, 192 * 1024, rnd);
  const port = await freePort();
  // Every member reconnects at once after a restart, all from 127.0.0.1.
  // Members send in closed loops (the long run: 100 of them for minutes): past any sending rate.
  const serverArgs = ['--max-anonymous-per-address', String(CLIENTS * 4), '--max-sends-per-minute', '0'];
  const start = async (): Promise<ChildServer> => {
    // The port was free a moment ago; an outgoing connection may briefly hold it as its local port.
    for (let attempt = 1; ; attempt++) {
      try {
        return await ChildServer.start({ dataDir, port, args: serverArgs, logFile: path.join(root, 'server.log') });
      } catch (err) {
        if (attempt >= 5) throw err;
        await sleep(500);
      }
    }
  };
  let server = await start();
  t.teardown(async () => {
    await server.kill('SIGKILL');
  });

  const ledger = new Ledger();
  const generation: Generation = { value: 0 };
  const clients = usernames.map((username) => new CrashClient({
    port, username, password: PASSWORD, everyone: usernames, files, ledger, generation, rnd,
    broadcastRate: 0.02, attachmentRate: 0.25, pauseMs: [0, 100],
  }));
  t.teardown(() => { for (const c of clients) c.close(); });
  for (const c of clients) c.start();

  const allBack = (): boolean => clients.every((c) => c.loggedInGeneration === generation.value);
  const kills: Array<{ ackedBefore: number; uploading: number; ms: number }> = [];
  for (let k = 0; k < KILLS; k++) {
    t.ok(await waitFor(allBack, LONG, 50), `every member logged in to server life ${generation.value}`);
    const acked = ledger.acked.size;
    t.ok(await waitFor(() => ledger.acked.size >= acked + CLIENTS, LONG, 20), `${CLIENTS} more messages acknowledged before kill ${k + 1}`);
    await sleep(randomInt(rnd, 0, 1500));
    const uploading = clients.filter((c) => c.uploading).length;
    const exit = await server.kill('SIGKILL');
    t.equal(exit.signal, 'SIGKILL', `kill ${k + 1}: the server died of SIGKILL`);
    kills.push({ ackedBefore: ledger.acked.size, uploading, ms: 0 });
    generation.value++;
    const restarted = Date.now();
    server = await start();
    kills[k]!.ms = Date.now() - restarted;
    t.same(unresumableTmpFiles(dataDir), [], `restart ${k + 1}: only resumable partial uploads in tmp/`);
  }

  // The last life: everyone is back, works a little more, then finishes its unfinished message.
  t.ok(await waitFor(allBack, LONG, 50), 'every member logged in after the last restart');
  const acked = ledger.acked.size;
  t.ok(await waitFor(() => ledger.acked.size >= acked + CLIENTS, LONG, 20), 'members carry on after the last restart');
  await Promise.all(clients.map((c) => c.finish()));
  t.ok(clients.every((c) => c.idle), 'every member finished its uploads');
  t.same(ledger.unexpected, [], 'no error that a kill does not explain');

  const admin: SiarClient = await adminClient(port, dataDir);
  t.teardown(() => admin.close());
  const gauges = async (): Promise<{ listeners: number; transfers: number }> => {
    const s = (await admin.request('STATS', { minutes: 1 })).args;
    return { listeners: Number(s.get('liveListeners')), transfers: Number(s.get('transfers')) };
  };
  t.ok(await waitFor(async () => (await gauges()).listeners === 0, LONG, 100), 'live shadow listeners return to 0');
  t.same(await gauges(), { listeners: 0, transfers: 0 }, 'no listener or transfer left');

  // Delivery: every stored recipient row got its popup, and every inbox holds each message once.
  const stored = readStoredMessages(dataDir);
  t.ok(await waitFor(() => checkPopups(stored, ledger).missing.length === 0, LONG, 100), 'every popup arrived');
  const popups = checkPopups(stored, ledger);
  t.same(popups.missing, [], 'no recipient missed a popup');
  t.same(popups.repeatedWithinLife.slice(0, 20), [], 'no popup written twice within one server life');
  let inboxRows = 0;
  const inboxProblems: string[] = [];
  for (const c of clients) {
    const counts = await inboxCounts(c.client!);
    const want = new Set(stored.filter((m) => m.state === 'sent' && m.recipients.includes(c.username)).map((m) => m.id));
    for (const [id, n] of counts) {
      inboxRows += n;
      if (n !== 1) inboxProblems.push(`${c.username}: ${n} inbox rows for ${id}`);
      if (!want.has(id)) inboxProblems.push(`${c.username}: message ${id} in the inbox but not addressed to it`);
    }
    for (const id of want) if (!counts.has(id)) inboxProblems.push(`${c.username}: message ${id} missing from the inbox`);
  }
  t.same(inboxProblems.slice(0, 20), [], 'each recipient has exactly one inbox row per message addressed to it');

  // Files: nothing in tmp/, nothing unreferenced in attachments/.
  t.same(orphanFiles(dataDir), { tmp: [], unreferenced: [] }, 'no orphan temp or content files');

  for (const c of clients) c.close();
  admin.close();
  const stop = await server.stop();
  t.equal(stop.code, 0, 'the last server life ends cleanly on SIGTERM');

  const v = checkStore(dataDir, ledger);
  t.same(v.lost, [], 'no acknowledged message lost');
  t.same(v.duplicates, [], 'no message stored twice');
  t.same(v.strangers, [], 'no stored message that nobody sent');
  t.same(v.halfDelivered.slice(0, 20), [], 'nothing half-delivered');
  t.same(v.badAttachments.slice(0, 20), [], 'every committed attachment is on disk with its sha256');
  t.same(v.unfinished.slice(0, 20), [], 'every acknowledged message ended sent');

  const withFiles = [...ledger.acked.keys()].filter((tag) => ledger.intents.get(tag)!.files.length > 0).length;
  const report = {
    seed: SEED, members: CLIENTS, kills: kills.length, killsDuringUploads: kills.filter((k) => k.uploading > 0).length,
    restartMsMax: Math.max(...kills.map((k) => k.ms)), acknowledged: ledger.acked.size, acknowledgedWithAttachments: withFiles,
    storedUnacknowledged: v.storedUnacknowledged, stored: v.stored, lost: v.lost.length, duplicates: v.duplicates.length,
    recipientRows: popups.expected, inboxRows, popupsMissing: popups.missing.length,
    popupsRepeatedWithinLife: popups.repeatedWithinLife.length, popupsRepeatedAfterRestart: popups.repeatedAfterRestart, logins: clients.reduce((a, c) => a + c.logins, 0),
  };
  t.comment(`crash report ${JSON.stringify(report)}`);
});
