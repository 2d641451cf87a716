/**
 * `siar admin send` (issue 21): an all-members alert from the command line through the real
 * executable against a real server; the options are `siar send`'s (priority, --ack/--no-ack,
 * --expires, --body-file, --attach); a member cannot use it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { jsonLines, siar, startWithMembers } from '../helpers/cli.js';
import { tempDir } from '../helpers/siar.js';

t.setTimeout(300_000);

t.test('siar admin send: every member gets it, with send\'s options; a member is refused', async (t) => {
  const dir = tempDir(t);
  const { admin, as } = await startWithMembers(t, dir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada'], ['itb', 'Institut Teknologi Bandung']]);
  const bodyFile = path.join(dir, 'body.txt');
  writeFileSync(bodyFile, 'Semua gedung dikosongkan pukul 10.00.\nBerkumpul di lapangan.\n');

  const sent = await siar(['admin', 'send', '--subject', 'Latihan evakuasi', '--body-file', bodyFile, '--priority', 'urgent', '--expires', '2h', '--json'], admin);
  t.equal(sent.code, 0, sent.stderr);
  const reply = jsonLines(sent.stdout)[0]!;
  t.match(reply, { recipients: '3', priority: 'urgent', ack: '1', expiresAt: /Z$/ }, 'urgent implies acknowledgement; the expiry is set');
  const id = String(reply.id);
  for (const member of ['unhas', 'ugm', 'itb']) {
    const inbox = jsonLines((await siar(['inbox', '--json'], as[member])).stdout);
    const m = inbox.find((x) => String(x.id) === id);
    t.match(m, { subject: 'Latihan evakuasi', from: 'admin', priority: 'urgent', ack: true, body: /Berkumpul di lapangan/ }, `${member} has it in its inbox`);
  }
  const report = JSON.parse((await siar(['report', id, '--json'], admin)).stdout);
  t.match(report, { recipients: 3, notAcknowledged: 3, ack: true });

  // The human form, --no-ack, and an attachment (send's own options come along).
  const file = path.join(dir, 'denah.txt');
  writeFileSync(file, 'titik kumpul: lapangan utama\n');
  const plain = await siar(['admin', 'send', '--subject', 'Denah', '--body', 'Lihat lampiran', '--priority', 'urgent', '--no-ack', '--attach', file], admin);
  t.equal(plain.code, 0, plain.stderr);
  t.match(plain.stdout, /^Sent alert \d+ \(urgent\) to 3 members\.$/m, 'no acknowledgement asked with --no-ack');
  const plainId = /Sent alert (\d+)/.exec(plain.stdout)![1]!;
  const read = await siar(['read', plainId, '--save-dir', path.join(dir, 'got')], as.itb);
  t.equal(read.code, 0, read.stderr);
  t.match(read.stdout, /Priority: urgent/);
  t.notMatch(read.stdout, /Acknowledgement requested/);

  // Clear errors, nothing sent.
  const bad = await siar(['admin', 'send', '--subject', 'X', '--expires', 'kemarin'], admin);
  t.not(bad.code, 0);
  t.match(bad.stderr, /expires must be an ISO time/);
  const noSubject = await siar(['admin', 'send', '--body', 'x'], admin);
  t.not(noSubject.code, 0);
  t.match(noSubject.stderr, /subject/);
  const missing = await siar(['admin', 'send', '--subject', 'X', '--body-file', path.join(dir, 'nope.txt')], admin);
  t.not(missing.code, 0);
  t.match(missing.stderr, /Cannot read .*nope\.txt/);

  // A member logging in as itself is refused: the administrator's verb is not the member's.
  const member = await siar(['admin', 'send', '--subject', 'Palsu', '--body', 'x', '--data', path.join(dir, 'none')], as.unhas);
  t.not(member.code, 0);
  t.match(member.stderr, /administrator|admin|FORBIDDEN|not allowed/i);
  const outbox = jsonLines((await siar(['outbox', '--json'], as.unhas)).stdout);
  t.equal(outbox.length, 0, 'nothing went out in the member\'s name');

  const audit = jsonLines((await siar(['admin', 'audit', '--kind', 'alert_sent', '--json'], admin)).stdout);
  t.equal(audit.length, 2, 'each all-members alert is audited');
  t.match(audit[1], { kind: 'alert_sent', actor: 'admin', subject: id, detail: { priority: 'urgent', ack: true, recipients: 3 } });
});

t.test('siar admin send --at says the alert is scheduled, and when, instead of that it was sent', async (t) => {
  const dir = tempDir(t);
  const { admin, as } = await startWithMembers(t, dir, [['unhas', 'Universitas Hasanuddin']]);
  const later = await siar(['admin', 'send', '--subject', 'Apel pagi', '--priority', 'high', '--at', '2h'], { ...admin, TZ: 'Asia/Makassar' });
  t.equal(later.code, 0, later.stderr);
  t.match(later.stdout, /^Scheduled alert \d+ \(high\) for 1 member at \d{4}-\d\d-\d\d \d\d:\d\d \+08:00; nobody sees it before\.$/m, 'scheduled, in local time');
  t.notMatch(later.stdout, /Sent alert/);
  const id = /Scheduled alert (\d+)/.exec(later.stdout)![1]!;
  const inbox = jsonLines((await siar(['inbox', '--json'], as.unhas)).stdout);
  t.notOk(inbox.some((m) => String(m.id) === id), 'and indeed nobody has it yet');
});
