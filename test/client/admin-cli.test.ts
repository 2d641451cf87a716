/** `siar admin …` as a cron job or a script runs it: the real executable, --json, against a real server. */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { parseEml, passwordFromText, tempDir } from '../helpers/siar.js';
import { SIAR, jsonLines, setOwnPassword, siar, startSiarServer, waitForMailedPassword, type Run } from '../helpers/cli.js';

const lines = (run: Run) => jsonLines(run.stdout);


// Each run of the real executable boots Node and tsx: on a busy machine this file needs more than tap's default.
t.setTimeout(300_000);

t.test('every admin function is scriptable with --json', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const env = { SIAR_SERVER: server };
  const admin = (args: string[]) => siar(['admin', ...args, '--json', '--data', data], env);

  for (const [username, institution] of [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']] as const) {
    const r = await siar(['register', '--institution', institution, '--contact', 'Budi', '--email', `${username}@example.ac.id`, '--username', username], env);
    t.equal(r.code, 0, r.stderr);
  }
  const approved = lines(await admin(['approve', '1', '2', '--wait-mail']));
  t.same(approved.map((r) => r.username), ['unhas', 'ugm']);
  t.same(approved.map((r) => r.mailStatus), ['sent', 'sent'], 'approval shows that the credentials mail went out');
  const unhas = { ...env, SIAR_USER: 'unhas', SIAR_PASSWORD: await setOwnPassword(server, data, 'unhas') };
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Rapat', '--body', 'Besok'], unhas);
  t.equal(sent.code, 0, sent.stderr);

  // Each member's storage against the quota and sending against the rate (issue 20).
  const members = lines(await admin(['members']));
  t.match(members.find((m) => m.username === 'unhas'), { storedBytes: '10', quotaBytes: String(10 * 1024 ** 3), sentLastMinute: '1', maxSendsPerMinute: '120' },
    'MEMBERS carries the usage: subject and body bytes, one message this minute');
  t.match(members.find((m) => m.username === 'ugm'), { storedBytes: '0', sentLastMinute: '0' });
  const humanMembers = await siar(['admin', 'members', '--data', data], env);
  t.match(humanMembers.stdout, /USERNAME\s+STATUS\s+ONLINE\s+STORED \/ QUOTA\s+SENT LAST MIN \/ RATE/);
  t.match(humanMembers.stdout, /unhas\s+active\s+[01]\s+10 B \/ 10 GiB\s+1 \/ 120\s/, 'and siar admin members shows it against the limits');

  const stats = lines(await admin(['stats', '--minutes', '5']))[0]!;
  t.match(stats, { messages: '1' });
  t.ok(Array.isArray(stats.minutes) && (stats.minutes as unknown[]).length >= 1, 'per-minute samples');
  for (const k of ['loopP50Ms', 'loopP99Ms', 'loopMaxMs', 'loopMaxEverMs']) {
    t.ok(Number.isFinite(Number(stats[k])) && stats[k] !== '', `event-loop lateness ${k}=${stats[k]}`);
  }
  const minute = (stats.minutes as Record<string, string>[]).at(-1)!;
  t.ok(Number.isFinite(Number(minute.loopP99Ms)) && Number.isFinite(Number(minute.loopMaxMs)), 'and per minute');
  const human = await siar(['admin', 'stats', '--data', data], env);
  t.match(human.stdout, /messages\s+1/);
  t.match(human.stdout, /loop late\s+p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms this minute; worst since start [\d.]+ ms/);

  const online = await admin(['online']);
  t.equal(online.code, 0, online.stderr);

  const queue = lines(await admin(['mail-queue', '--status', 'all']));
  t.same(queue.map((m) => m.kind).sort(), ['credentials', 'credentials']);
  t.ok(queue.every((m) => m.status === 'sent'), 'both credentials mails went out');
  t.match(lines(await admin(['mail-retry']))[0], { count: '0' });

  const audit = lines(await admin(['audit', '--kind', 'registration_approved']));
  t.equal(audit.length, 2);
  t.match(audit[0], { kind: 'registration_approved', actor: 'admin', subject: 'ugm', detail: { requestId: 2 } });
  t.equal(lines(await admin(['audit', '--member', 'unhas', '--since', '1h'])).length, 3, 'requested, approved, password changed');

  const reset = lines(await admin(['reset-password', 'ugm']))[0]!;
  t.match(reset, { username: 'ugm', email: 'ugm@example.ac.id' });
  const ugmPassword = await waitForMailedPassword(data, 'ugm', 'password_reset');
  const ugmPasswd = await siar(['passwd', '--user', 'ugm'], { ...env, SIAR_PASSWORD: ugmPassword, SIAR_NEW_PASSWORD: 'Gadjah-Mada-own-2026' });
  t.equal(ugmPasswd.code, 0, 'the member logs in with the mailed password and sets its own');

  const suspend = lines(await admin(['suspend', 'unhas']))[0]!;
  t.match(suspend, { status: 'suspended' });
  lines(await admin(['reactivate', 'unhas']));

  const expiry = lines(await admin(['expiry']))[0]!;
  t.match(expiry, { days: '30', expired: '0' });

  const backup = lines(await admin(['backup']))[0]!;
  t.match(backup, { status: 'done', integrity: 'ok', messages: '1', members: '2' });
  const backups = lines(await admin(['backups']));
  t.equal(backups[0]?.name, backup.name);
  const humanBackup = await siar(['admin', 'backup', '--attachments', 'copy', '--data', data], env);
  t.match(humanBackup.stdout, /backup siar-.* done: .*integrity ok/);

  // A member cannot use any of it.
  // (test/server/admin-ops.test.ts checks every admin verb; here that the CLI reports the refusal.)
  for (const cmd of [['stats'], ['backup'], ['reset-password', 'ugm']]) {
    const r = await siar(['admin', ...cmd], unhas);
    t.not(r.code, 0, `${cmd[0]} is refused to a member`);
    t.match(r.stderr, /FORBIDDEN/);
  }
});
