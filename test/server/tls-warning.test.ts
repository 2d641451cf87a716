/** The real `siar server` warns at start, in its log, when it listens beyond loopback without TLS (issue 7 item 4). */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { SIAR } from '../helpers/cli.js';
import { tempDir } from '../helpers/siar.js';
import { makePki } from '../helpers/tls.js';

type LogRecord = { level?: number; msg?: string; host?: string; tls?: boolean };

/** Starts `siar server ARGS` and returns its log records up to and including "siar server listening". */
async function startLog(t: Test, args: string[]): Promise<LogRecord[]> {
  const child = spawn(process.execPath, [SIAR, 'server', '--port', '0', '--data', tempDir(t), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGTERM'); });
  const records: LogRecord[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    const rec = JSON.parse(line) as LogRecord;
    records.push(rec);
    if (rec.msg === 'siar server listening') return records;
  }
  throw new Error('the server exited before listening');
}

const WARNING = /non-loopback address without TLS/;

t.test('on 0.0.0.0 without TLS the start log warns and says how to turn TLS on', async (t) => {
  const records = await startLog(t, ['--host', '0.0.0.0']);
  const warning = records.find((r) => WARNING.test(r.msg ?? ''));
  t.ok(warning, 'a warning is logged before "listening"');
  t.equal(warning?.level, 40, 'at level warn');
  t.equal(warning?.host, '0.0.0.0');
  t.match(warning?.msg, /--tls-cert FILE --tls-key FILE/, 'naming the flags that enable TLS');
  t.match(warning?.msg, /attachments/, 'and that attachments are exposed too');
});

t.test('no warning on loopback, nor on 0.0.0.0 with TLS', async (t) => {
  const loopback = await startLog(t, ['--host', '127.0.0.1']);
  t.notOk(loopback.some((r) => WARNING.test(r.msg ?? '')), 'loopback: no warning');
  const pki = makePki(t);
  const secured = await startLog(t, ['--host', '0.0.0.0', '--tls-cert', pki.certFile, '--tls-key', pki.keyFile]);
  t.notOk(secured.some((r) => WARNING.test(r.msg ?? '')), 'TLS: no warning');
  t.equal(secured.at(-1)?.tls, true, 'and the start line says TLS is on');
});

t.test('a public --transfer-host without TLS is warned about too (the shadow listeners bind there)', async (t) => {
  const records = await startLog(t, ['--host', '127.0.0.1', '--transfer-host', '0.0.0.0']);
  t.ok(records.some((r) => WARNING.test(r.msg ?? '')), 'warned');
});
