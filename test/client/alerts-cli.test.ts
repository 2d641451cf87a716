/**
 * The alert commands of the `siar` CLI (issue 21) through the real executable against a real
 * server: send --priority/--ack/--no-ack, inbox and read marks, ack, report (text, --json, --csv).
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { jsonLines, siar, startSiarServer, startWithMembers } from '../helpers/cli.js';
import { tempDir } from '../helpers/siar.js';

// Every step runs the real executable (a Node start each): slow on a busy machine.
t.setTimeout(600_000);

t.test('send --priority urgent, ack, report counts down, inbox/outbox/read show it', async (t) => {
  const dir = tempDir(t);
  const { as } = await startWithMembers(t, dir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada'], ['itb', 'Institut Teknologi Bandung']]);
  const sent = await siar(['send', '--to', 'ugm,itb', '--subject', 'Gempa', '--body', 'Keluar gedung', '--priority', 'urgent', '--json'], as.unhas);
  t.equal(sent.code, 0, sent.stderr);
  const reply = jsonLines(sent.stdout)[0]!;
  t.match(reply, { priority: 'urgent', ack: '1' });
  const id = String(reply.id);
  const noAck = await siar(['send', '--to', 'ugm', '--subject', 'Info', '--priority', 'urgent', '--no-ack', '--json'], as.unhas);
  t.notOk('ack' in jsonLines(noAck.stdout)[0]!, '--no-ack: no acknowledgement asked');

  const inbox = await siar(['inbox'], as.ugm);
  t.match(inbox.stdout, /ALERT/);
  t.match(inbox.stdout, new RegExp(`^${id} .*URGENT ACK\\? +Gempa`, 'm'), 'the inbox says it waits for an acknowledgement');
  const read = await siar(['read', id], as.ugm);
  t.match(read.stdout, /Priority: urgent/);
  t.match(read.stdout, new RegExp(`Acknowledgement requested: siar ack ${id}`));

  let report = await siar(['report', id], as.unhas);
  t.equal(report.code, 0, report.stderr);
  t.match(report.stdout, /2 of 2 have not acknowledged\./);
  const ack = await siar(['ack', id], as.ugm);
  t.equal(ack.code, 0, ack.stderr);
  t.match(ack.stdout, new RegExp(`Acknowledged message ${id}\\.`));
  t.match((await siar(['ack', id], as.ugm)).stdout, /already acknowledged/);
  report = await siar(['report', id], as.unhas);
  // Counts agree with their number (the try-out read "1 have not acknowledged").
  t.match(report.stdout, /^1 of 2 has not acknowledged\.$/m);
  t.match(report.stdout, /: 2 recipients, /);
  const remind = await siar(['remind', id], as.unhas);
  t.equal(remind.code, 0, remind.stderr);
  t.match(remind.stdout, new RegExp(`^Reminder 1 of message ${id}: 1 recipient has not acknowledged; it is not online now\\.$`, 'm'));
  t.match(report.stdout, /^itb +delivered|^itb +waiting/m, 'the non-acknowledger first');

  const csv = await siar(['report', id, '--csv'], as.unhas);
  const lines = csv.stdout.trim().split('\n');
  t.equal(lines[0], 'username,institution,state,deliveredAt,readAt,ackedAt');
  t.match(lines[1], /^itb,Institut Teknologi Bandung,(waiting|delivered),/);
  t.match(lines[2], /^ugm,Universitas Gadjah Mada,acknowledged,.+Z,.+Z,.+Z$/);
  const json = JSON.parse((await siar(['report', id, '--json'], as.unhas)).stdout);
  t.match(json, { id: Number(id), recipients: 2, acknowledged: 1, notAcknowledged: 1, ack: true, priority: 'urgent' });
  t.equal(json.rows.length, 2);

  const outbox = await siar(['outbox'], as.unhas);
  t.match(outbox.stdout, new RegExp(`^${id} .*URGENT acked 1/2 +Gempa`, 'm'));
  const denied = await siar(['report', id], as.ugm);
  t.not(denied.code, 0, 'a recipient cannot report');
  t.match(denied.stderr, /No message/);

  // recall, --replaces, --expires
  const fix = await siar(['send', '--to', 'ugm', '--subject', 'Gempa (ralat)', '--replaces', id, '--expires', '2h', '--json'], as.unhas);
  t.equal(fix.code, 0, fix.stderr);
  const fixed = jsonLines(fix.stdout)[0]!;
  t.match(fixed, { replaces: id, expiresAt: /Z$/ });
  const withdrawn = await siar(['inbox'], as.ugm);
  t.match(withdrawn.stdout, new RegExp(`^${id} .*WITHDRAWN +Gempa`, 'm'), 'the inbox marks it withdrawn');
  const readFix = await siar(['read', String(fixed.id)], as.ugm);
  t.match(readFix.stdout, new RegExp(`Replaces: message ${id}`));
  t.match(readFix.stdout, /Expires: /);
  const refused = await siar(['read', id], as.ugm);
  t.not(refused.code, 0);
  t.match(refused.stderr, /withdrawn by its sender/);
  const recall = await siar(['recall', String(fixed.id), '--reason', 'Latihan selesai'], as.unhas);
  t.equal(recall.code, 0, recall.stderr);
  // ugm's last one-shot connection may still count as online: either way the verb agrees.
  t.match(recall.stdout, new RegExp(`^Recalled message ${fixed.id}: 0 recipients will never get it, (0 online were|1 online was) told\\.$`, 'm'));
  t.match((await siar(['recall', String(fixed.id)], as.unhas)).stdout, /already recalled/);
});

t.test('send --at and --remind-every: scheduled in the user\'s zone, stored in UTC, shown as scheduled; too short a period is refused', async (t) => {
  const dir = tempDir(t);
  const { as } = await startWithMembers(t, dir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']]);
  const makassar = { ...as.unhas, TZ: 'Asia/Makassar' }; // UTC+8, no daylight saving
  // Ten days ahead, 08:00 in Makassar: 00:00 UTC.
  const day = new Date(Date.now() + 10 * 86400_000).toISOString().slice(0, 10);
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Upacara', '--at', `${day}T08:00+08:00`, '--ack', '--remind-every', '15m', '--remind-max', '3', '--json'], makassar);
  t.equal(sent.code, 0, sent.stderr);
  const reply = jsonLines(sent.stdout)[0]!;
  t.match(reply, { state: 'scheduled', deliverAt: `${day}T00:00:00.000Z`, remind: '900', remindMax: '3', ack: '1' });
  const text = await siar(['send', '--to', 'ugm', '--subject', 'Nanti', '--at', '30m'], makassar);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stderr, /scheduled for \d{4}-\d\d-\d\d \d\d:\d\d \+08:00/);
  const outbox = await siar(['outbox'], makassar);
  t.match(outbox.stdout, new RegExp(`^${reply.id} .*scheduled ${day} 08:00`, 'm'), 'the outbox shows it scheduled, in local time');
  const read = await siar(['read', String(reply.id)], makassar);
  t.match(read.stdout, new RegExp(`Scheduled for: ${day} 08:00 \\+08:00`));
  t.match(read.stdout, /Reminders: every 900 s, at most 3/);
  t.notMatch((await siar(['inbox'], as.ugm)).stdout, /Upacara/, 'the recipient sees nothing yet');
  // A scheduled correction: the old notice stays with its recipient until the correction goes out.
  const fix = await siar(['send', '--to', 'ugm', '--subject', 'Nanti (ralat)', '--at', '1h', '--replaces', String(reply.id)], makassar);
  t.equal(fix.code, 0, fix.stderr);
  t.match(fix.stderr, new RegExp(`scheduled for .*\\. Message ${reply.id} stays until then and is withdrawn when it goes out\\.`));
  t.notMatch((await siar(['read', String(reply.id)], makassar)).stdout, /Withdrawn/, 'not withdrawn at SEND');

  const short = await siar(['send', '--to', 'ugm', '--subject', 'x', '--ack', '--remind-every', '30s'], as.unhas);
  t.not(short.code, 0);
  t.match(short.stderr, /at least 60 seconds.*--remind-min-interval/);
  const past = await siar(['send', '--to', 'ugm', '--subject', 'x', '--at', '2020-01-01T08:00+08:00'], as.unhas);
  t.not(past.code, 0);
  t.match(past.stderr, /not in the future/);
});

t.test('send --at with --attach: uploaded at once, held across a server restart, out at its time with its file', async (t) => {
  const dir = tempDir(t);
  const first = await startWithMembers(t, dir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']]);
  const { as } = first;
  const file = path.join(tempDir(t), 'undangan.txt');
  writeFileSync(file, 'Undangan rapat senat, Senin 09:00\n'.repeat(2000));
  // Long enough for the checks below on a busy machine; they are asserted to run before its time.
  const before = Date.now();
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Undangan', '--at', '30s', '--attach', file], as.unhas);
  t.equal(sent.code, 0, sent.stderr);
  t.match(sent.stderr, /scheduled for \d{4}-\d\d-\d\d \d\d:\d\d/);
  const id = sent.stdout.trim();
  t.match((await siar(['outbox'], as.unhas)).stdout, new RegExp(`^${id} .*scheduled`, 'm'), 'uploaded, held: scheduled');
  t.notMatch((await siar(['inbox'], as.ugm)).stdout, /Undangan/, 'the recipient sees nothing yet');
  const early = await siar(['download', id, '--to', tempDir(t)], as.ugm);
  t.not(early.code, 0, 'nothing to download before its time');
  t.match(early.stderr, /No message|not found/i);
  t.ok(Date.now() < before + 30_000, 'all checked before its time');

  // A restart between the upload and its time.
  const exited = once(first.child, 'exit');
  first.child.kill('SIGTERM');
  await exited;
  const second = await startSiarServer(t, dir);
  const ugm = { ...as.ugm, SIAR_SERVER: second.address };
  const deadline = Date.now() + 60_000;
  let inbox = '';
  while (Date.now() < deadline && !inbox.includes('Undangan')) {
    await new Promise((r) => setTimeout(r, 500));
    inbox = (await siar(['inbox'], ugm)).stdout;
  }
  t.match(inbox, new RegExp(`^${id} .*Undangan`, 'm'), 'out at its time, after the restart');
  const into = tempDir(t);
  const got = await siar(['download', id, '--to', into], ugm);
  t.equal(got.code, 0, got.stderr);
  t.equal(readFileSync(path.join(into, 'undangan.txt'), 'utf8'), readFileSync(file, 'utf8'), 'the file arrives whole');
});

t.test('report on a scheduled or recalled message says so (REPORT\'s documented state=), not only counts that read like a live message', async (t) => {
  const dir = tempDir(t);
  const { as } = await startWithMembers(t, dir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']]);
  const later = jsonLines((await siar(['send', '--to', 'ugm', '--subject', 'Apel', '--at', '2h', '--ack', '--json'], as.unhas)).stdout)[0]!;
  const scheduled = await siar(['report', String(later.id)], as.unhas);
  t.equal(scheduled.code, 0, scheduled.stderr);
  t.match(scheduled.stdout, /^It is scheduled: nobody has it yet/m, 'instead of "1 of 1 have not acknowledged"');
  t.notMatch(scheduled.stdout, /have not acknowledged/);
  t.match(JSON.parse((await siar(['report', String(later.id), '--json'], as.unhas)).stdout), { state: 'scheduled', recipients: 1 });

  const now = jsonLines((await siar(['send', '--to', 'ugm', '--subject', 'Siaga', '--ack', '--json'], as.unhas)).stdout)[0]!;
  t.equal((await siar(['recall', String(now.id), '--reason', 'salah kirim'], as.unhas)).code, 0);
  const recalled = await siar(['report', String(now.id)], as.unhas);
  t.match(recalled.stdout, /^It was recalled: nobody gets it any more\./m, 'the report says it was recalled');
  t.match(JSON.parse((await siar(['report', String(now.id), '--json'], as.unhas)).stdout), { state: 'recalled' });
});
