/**
 * A message whose attachments are not all uploaded (issue 22 item 8), with the real `siar` against
 * a real server: Ctrl-C during `send --attach` says what happened and how to go on; `siar outbox`
 * shows how far each attachment got; `siar resume ID` continues from the server's offset and the
 * recipient gets the popup once, with the right bytes; `siar cancel ID` withdraws the message and
 * frees its partial upload on the server. On a terminal the progress bar shows the hashing
 * step (item 16) before the upload.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, readdirSync, statSync, writeSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { startServer, tempDir, type TestServer } from '../helpers/siar.js';
import { SIAR, jsonLines, siar } from '../helpers/cli.js';
import { KEY, PtyScreen } from './tui/pty.js';

/** The sha256 of a file, streamed (the files here are hundreds of MiB). */
async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

const BIG = 320 * 1024 * 1024;

/** A file of `size` bytes: sparse, with a few marks so it is not all zeros (its sha256 is computed by reading it). */
function bigFile(dir: string, name: string, size: number): string {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  for (let at = 0; at < size; at += 16 * 1024 * 1024) writeSync(fd, Buffer.from(`mark at ${at}\n`), 0, undefined, at);
  writeSync(fd, Buffer.from('end\n'), 0, undefined, size - 4);
  closeSync(fd);
  return file;
}

async function setup(t: Test) {
  const s = await startServer(t);
  const config = tempDir(t, 'siar-config-');
  const env: Record<string, Record<string, string>> = {};
  for (const u of ['unhas', 'ugm']) {
    const { password } = await s.member(u);
    env[u] = { SIAR_SERVER: `127.0.0.1:${s.port}`, SIAR_USER: u, SIAR_PASSWORD: password, XDG_CONFIG_HOME: config };
  }
  const file = bigFile(tempDir(t), 'data besar.bin', BIG);
  return { s, env, file, config };
}

/**
 * Starts `siar send --attach FILE`, waits until the server is receiving its bytes (neither before,
 * nor once they are all in), then presses Ctrl-C (SIGINT). Resolves with how it ended.
 */
async function interruptedSend(t: Test, s: TestServer, env: Record<string, string>, file: string) {
  const child = spawn(process.execPath, [SIAR, 'send', '--to', 'ugm', '--subject', 'Data penelitian', '--attach', file], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const upload = s.server.transfers.list().find((x) => x.direction === 'upload');
    if (upload && upload.bytes > 0 && upload.bytes < upload.size / 2) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the upload was never seen under way; stderr: ${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGINT');
  const [code] = await exited;
  return { code, stdout, stderr };
}

function tmpFiles(s: TestServer): string[] {
  return readdirSync(path.join(s.dataDir, 'tmp'));
}

t.test('Ctrl-C during send --attach explains itself; outbox shows how far it got; resume continues from the server\'s offset and the recipient gets it once', async (t) => {
  const { s, env, file, config } = await setup(t);
  const listener = spawn(process.execPath, [SIAR, 'listen', '--json'], { env: { ...process.env, ...env.ugm }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { listener.kill(); });
  const popups: Array<{ id: number }> = [];
  createInterface({ input: listener.stdout! }).on('line', (l) => popups.push(JSON.parse(l) as { id: number }));
  await new Promise<void>((resolve) => listener.stderr!.once('data', () => resolve())); // "listening as ugm"

  const run = await interruptedSend(t, s, env.unhas!, file);
  t.equal(run.code, 130, 'the exit code of an interrupted command');
  t.equal(run.stdout, '', 'no message id: the message is not sent');
  const m = /Message (\d+) is not sent: nobody sees it until all its attachments are in\./.exec(run.stderr);
  t.ok(m, `stderr says what happened: ${run.stderr}`);
  const id = Number(m?.[1]);
  t.match(run.stderr, /data besar\.bin: [\d.]+ MiB of 320 MiB sent/, 'how far the file got');
  t.match(run.stderr, new RegExp(`siar resume ${id}\`.*siar cancel ${id}\``), 'and how to continue or withdraw');

  // The server kept the bytes that arrived; the client remembered the path (privately).
  await s.server.transfers.whenIdle();
  const kept = statSync(path.join(s.dataDir, 'tmp', `upload-1.part`)).size;
  t.ok(kept > 0 && kept < BIG, `the partial upload is on the server (${kept} bytes)`);
  const uploads = path.join(config, 'siar', 'uploads');
  t.equal(statSync(uploads).mode & 0o777, 0o700);
  const [remembered] = readdirSync(uploads);
  t.equal(statSync(path.join(uploads, remembered!)).mode & 0o777, 0o600);
  t.match(JSON.parse(readFileSync(path.join(uploads, remembered!), 'utf8')), { messageId: id, files: [{ path: file, size: BIG }] });

  const [row] = jsonLines((await siar(['outbox', '--json'], env.unhas!)).stdout);
  t.match(row, { id, state: 'sending', attachments: [{ name: 'data besar.bin', size: BIG, uploaded: kept }] }, 'outbox --json: the bytes the server holds');
  t.ok(typeof row!.uploadDeadline === 'string', 'and when the message expires');
  const table = await siar(['outbox'], env.unhas!);
  t.match(table.stdout, new RegExp(`Message ${id} is still being sent \\(until [^)]+\\): data besar\\.bin [\\d.]+ MiB of 320 MiB\\. Continue with \`siar resume ${id}\``));
  const del = await siar(['delete', String(id)], env.unhas!);
  t.not(del.code, 0);
  t.match(del.stderr, new RegExp(`still waiting for its attachments: CANCEL id=${id} withdraws it \\(siar cancel ${id}\\)`), 'delete points at cancel');
  t.equal(popups.length, 0, 'the recipient has seen nothing yet');

  const resumed = await siar(['resume', String(id), '--json'], env.unhas!);
  t.equal(resumed.code, 0, resumed.stderr);
  const result = JSON.parse(resumed.stdout) as { state: string; attachments: Array<{ from: number; size: number }> };
  t.equal(result.state, 'sent');
  t.ok(result.attachments[0]!.from >= kept && result.attachments[0]!.from > 0, `continued from the server's offset (${result.attachments[0]!.from}), not from 0`);
  t.notOk(existsSync(path.join(uploads, remembered!)), 'the remembered paths are forgotten once it is sent');
  t.same(tmpFiles(s), [], 'no partial file is left');

  const dir = tempDir(t);
  const got = jsonLines((await siar(['download', String(id), '--to', dir, '--json'], env.ugm!)).stdout);
  const original = await sha256File(file);
  t.equal(got[0]!.sha256, original, 'the recipient gets the right bytes');
  t.equal(await sha256File(got[0]!.path as string), original);
  const inbox = jsonLines((await siar(['inbox', '--json'], env.ugm!)).stdout);
  t.same(inbox.map((r) => r.id), [id], 'one message in the inbox');
  t.same(popups.map((p) => p.id), [id], 'and one popup');
});

t.test('cancel withdraws an interrupted message: its partial upload is freed, nobody ever receives it', async (t) => {
  const { s, env, file } = await setup(t);
  const run = await interruptedSend(t, s, env.unhas!, file);
  const id = Number(/Message (\d+) is not sent/.exec(run.stderr)?.[1]);
  t.ok(id > 0, run.stderr);
  await s.server.transfers.whenIdle();
  t.same(tmpFiles(s), ['upload-1.part'], 'the partial upload waits for a resume');
  // Running the same command again would send everything a second time: it says what waits.
  const twin = await siar(['send', '--to', 'ghost', '--subject', 'Data penelitian', '--attach', file], env.unhas!);
  t.match(twin.stderr, `message ${id} with these attachments is still waiting to be sent: \`siar resume ${id}\` continues it`);
  t.match(twin.stderr, /UNKNOWN_RECIPIENT/, '(this one then fails on its recipient, before any upload)');

  const cancel = await siar(['cancel', String(id)], env.unhas!);
  t.equal(cancel.code, 0, cancel.stderr);
  t.match(cancel.stdout, `message ${id} cancelled`);
  t.same(tmpFiles(s), [], 'the partial file is gone from the server\'s data dir');
  const [row] = jsonLines((await siar(['outbox', '--json'], env.unhas!)).stdout);
  t.match(row, { id, state: 'cancelled' }, 'the sender sees it withdrawn');
  t.same(jsonLines((await siar(['inbox', '--json'], env.ugm!)).stdout), [], 'the recipient never sees it');
  const again = await siar(['resume', String(id)], env.unhas!);
  t.not(again.code, 0);
  t.match(again.stderr, `Message ${id} was cancelled before its attachments were all in`);
  const twice = await siar(['cancel', String(id)], env.unhas!);
  t.not(twice.code, 0, 'cancelling twice is an error, not a silent success');
  t.match(twice.stderr, /NOT_FOUND/);
});

t.test('on a terminal the bar shows the hashing step first, then the upload; Ctrl-C leaves a clean notice', async (t) => {
  const { s, env, file } = await setup(t);
  const term = PtyScreen.spawn(t, process.execPath, [SIAR, 'send', '--to', 'ugm', '--subject', 'Data', '--attach', file], {
    cwd: path.dirname(file), env: { ...process.env, ...env.unhas } as Record<string, string>, cols: 120, rows: 20,
  });
  const hashing = await term.waitFor(/data besar\.bin\s+\|.*\| *\d+% hashing +[\d.]+ MiB of 320 MiB/, 60_000);
  t.notMatch(hashing, /uploading/, 'while the file is read for its sha256, the bar says so');
  t.equal(s.server.transfers.list().length, 0, 'and nothing has reached the server yet');
  await term.waitFor(/\d+% uploading +[\d.]+ MiB of 320 MiB/, 60_000);
  t.match(term.transcript(), /hashing[\s\S]*uploading/, 'the same bar goes on with the upload');
  term.write(KEY.ctrl('c'));
  const screen = await term.waitFor(/Continue with `siar resume \d+`/, 30_000);
  t.match(screen, /Message \d+ is not sent: nobody sees it until all its attachments are in\./);
  t.equal((await term.exited).exitCode, 130);
});
