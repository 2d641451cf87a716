/**
 * `siar server` settings from flags, SIAR_* variables and a YAML config file (issue 18 item 8),
 * through the real executable: every option of the table is reachable all three ways, a limit set
 * in the file is what a real server announces, a flag beats the environment which beats the file,
 * and a bad value or an unknown key stops the server with a sentence naming it and where it was.
 */
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { stringify } from 'yaml';
import { formatValue, maskSecret, parseValue } from '../../src/server/option-kinds.js';
import { SERVER_OPTIONS, envName, type OptionSpec } from '../../src/server/options.js';
import { siar, startSiarServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/siar.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The first line a real server sends: `*|HELLO|…|maxFrame=…|maxBody=…`. */
async function hello(port: number): Promise<Record<string, string>> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let text = '';
  while (!text.includes('\n')) text += (await once(socket, 'data'))[0] as string;
  socket.destroy();
  return Object.fromEntries(text.split('\n')[0]!.split('|').slice(2).map((f) => f.split('=') as [string, string]));
}

type PrintedSetting = { value: string | number | null; source: string; origin: string; note?: string };
async function printConfig(args: string[], env: Record<string, string> = {}): Promise<{ configFile: string | null; settings: Record<string, PrintedSetting> }> {
  const r = await siar(['server', '--print-config', '--json', ...args], env);
  if (r.code !== 0) throw new Error(`siar server --print-config failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A valid value unlike the default, as an operator would write it. */
function otherValue(spec: OptionSpec, dir: string): string {
  switch (spec.kind) {
    case 'integer':
      if (spec.default === null) return String(spec.min + 99);
      return String(spec.max !== undefined && spec.default + 1 > spec.max ? spec.default - 1 : spec.default + 1);
    case 'size': return `${spec.default! + 1024}`;
    case 'duration': return `${(spec.default! + 1000) / 1000}s`;
    case 'enum': return spec.choices.find((c) => c !== spec.default)!;
    case 'host': return spec.name === 'host' ? '127.0.0.2' : '127.0.0.3';
    case 'url': return spec.schemes.includes('redis:') ? 'redis://:hunter2-secret@127.0.0.1:6379' : 'smtp://siar:hunter2-secret@127.0.0.1:2525';
    case 'store': return 'postgres://siar:hunter2-secret@127.0.0.1:5432/siar';
    case 'port-range': return '40000-40009';
    case 'path': return spec.name === 'data' ? path.join(dir, 'elsewhere') : path.join(dir, `${spec.name}.pem`);
    case 'string': return spec.pattern ? `test-${spec.name}` : `Siar ${spec.name} <siar@example.org>`;
  }
}

function expectedShown(spec: OptionSpec, raw: string): string | number {
  const shown = formatValue(spec, parseValue(spec, raw));
  return spec.secret ? maskSecret(String(shown)) : shown;
}

t.test('every option is reachable by its flag, its SIAR_ variable and its config-file key', async (t) => {
  const dir = tempDir(t);
  const values = new Map(SERVER_OPTIONS.map((o) => [o, otherValue(o, dir)]));
  for (const [o, raw] of values) t.not(expectedShown(o, raw), o.default === null ? null : formatValue(o, o.default), `${o.name}: the test value is not the default`);
  const file = path.join(dir, 'server.yml');
  writeFileSync(file, [...values].map(([o, raw]) => `${o.name}: ${stringify(raw).trimEnd()}`).join('\n'));
  const ways = {
    flag: await printConfig([...values].flatMap(([o, raw]) => [`--${o.name}`, raw])),
    env: await printConfig([], Object.fromEntries([...values].map(([o, raw]) => [envName(o), raw]))),
    file: await printConfig(['--config', file]),
  };
  for (const [source, printed] of Object.entries(ways)) {
    for (const [o, raw] of values) {
      t.match(printed.settings[o.name], { value: expectedShown(o, raw), source }, `${o.name} by ${source}`);
    }
  }
  t.equal(ways.env.settings.smtp!.origin, 'SIAR_SMTP', 'SIAR_SMTP still sets the SMTP URL');
  t.equal(ways.file.settings.port!.origin, `${file}:${SERVER_OPTIONS.findIndex((o) => o.name === 'port') + 1}`, 'a file setting names its line');
  t.notOk(JSON.stringify(ways).includes('hunter2-secret'), 'the SMTP password is never printed');
});

t.test('a limit set in the config file is what a real server announces; a flag beats the environment, which beats the file', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'server.yml');
  writeFileSync(file, '# limits for the test\nmax-body: 1000\nmax-frame: 2KiB\n');
  const fromFile = await startSiarServer(t, path.join(dir, 'a'), ['--config', file]);
  t.match(await hello(fromFile.port), { maxBody: '1000', maxFrame: '2048' }, 'the file sets the body and frame limits');
  const fromEnv = await startSiarServer(t, path.join(dir, 'b'), [], { SIAR_CONFIG: file, SIAR_MAX_BODY: '2000' });
  t.match(await hello(fromEnv.port), { maxBody: '2000', maxFrame: '2048' }, 'SIAR_CONFIG names the file; SIAR_MAX_BODY beats it');
  const fromFlag = await startSiarServer(t, path.join(dir, 'c'), ['--config', file, '--max-body', '3000'], { SIAR_MAX_BODY: '2000' });
  t.match(await hello(fromFlag.port), { maxBody: '3000', maxFrame: '2048' }, '--max-body beats both');
});

t.test('a bad value stops the server with a sentence naming the option and where it came from', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const file = path.join(dir, 'server.yml');
  writeFileSync(file, 'port: 0\nmax-body: lots\n');
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['file', ['--config', file], {}, new RegExp(`^siar: ${file}:2: max-body: "lots" is not a whole number\\.\\n$`)],
    ['environment', [], { SIAR_IDLE_TIMEOUT: '30d' }, /^siar: SIAR_IDLE_TIMEOUT \(environment\): must be at most 24d, not 30d\.\n$/],
    ['flag', ['--max-sends-per-minute', '-1'], {}, /^siar: --max-sends-per-minute: must be at least 1 \(or 0: no limit\), not -1\.\n$/],
    ['flag', ['--member-quota', 'lots'], {}, /^siar: --member-quota: "lots" is not a size \(e\.g\. 1048576, 500M, 1GiB\)\.\n$/],
    ['flag', ['--synchronous', 'full'], {}, /^siar: --synchronous: "full" is not one of NORMAL, FULL\.\n$/],
    ['flag', ['--cluster-name', 'campus:a'], {}, /^siar: --cluster-name: "campus:a" is not valid: it must be 1 to 32 letters, digits, - and _, beginning with a letter or digit\.\n$/],
    ['environment', [], { SIAR_CLUSTER_NAME: 'x'.repeat(33) }, /^siar: SIAR_CLUSTER_NAME \(environment\): "x{33}" is not valid: it must be 1 to 32 /],
    ['pair', ['--tls-key', path.join(dir, 'key.pem')], {}, /^siar: --tls-key: tls-cert is not set; tls-cert and tls-key go together\.\n$/],
    ['secret', [], { SIAR_SMTP: 'http://siar:hunter2-secret@mail' }, /^siar: SIAR_SMTP \(environment\): must be a URL with a host, starting smtp:\/\/ or smtps:\/\/\.\n$/],
  ];
  const runs = await Promise.all(cases.map(([, args, env]) => siar(['server', '--data', data, '--port', '0', ...args], env)));
  cases.forEach(([what, , , message], i) => {
    t.equal(runs[i]!.code, 1, `${what}: exit code 1`);
    t.match(runs[i]!.stderr, message, `${what}: ${runs[i]!.stderr.trim()}`);
  });
  t.notOk(existsSync(data), 'no server started: the data directory was never made');
  const two = await siar(['server', '--config', file, '--port', 'x', '--print-config']);
  t.equal(two.code, 1);
  t.match(two.stderr, new RegExp(`^siar: 2 settings are not valid:\\n  --port: "x" is not a whole number\\.\\n  ${file}:2: max-body: "lots"`), 'every bad value is listed, even one a flag overrides');
});

t.test('a mail key file that cannot be used stops the server before it makes anything, saying what to do', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const open = path.join(dir, 'open.key');
  writeFileSync(open, randomBytes(32), { mode: 0o600 });
  chmodSync(open, 0o644);
  const short = path.join(dir, 'short.key');
  writeFileSync(short, 'not a key', { mode: 0o600 });
  const missing = path.join(dir, 'missing.key');
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['missing', ['--mail-key-file', missing], {}, new RegExp(`^siar: the mail key file ${missing} \\(mail-key-file\\) does not exist: make one for every node with \`\\(umask 077; head -c 32 /dev/urandom > ${missing}\\)\`, or copy there the <data>/mail\\.key of a node that has mail queued\\.\\n$`)],
    ['group- and world-readable', [], { SIAR_MAIL_KEY_FILE: open }, new RegExp(`^siar: the mail key file ${open} \\(mail-key-file\\) has mode 0644: .*\`chmod 600 ${open}\``)],
    ['wrong size', ['--mail-key-file', short], {}, /holds 9 bytes; a mail key is exactly 32 random bytes/],
  ];
  const runs = await Promise.all(cases.map(([, args, env]) => siar(['server', '--data', data, '--port', '0', ...args], env)));
  cases.forEach(([what, , , message], i) => {
    t.equal(runs[i]!.code, 1, `${what}: exit code 1`);
    t.match(runs[i]!.stderr, message, `${what}: ${runs[i]!.stderr.trim()}`);
    t.notOk(runs[i]!.stderr.includes('not a key'), `${what}: the key's bytes are never shown`);
  });
  t.notOk(existsSync(data), 'no data directory, no database: nothing was made');

  // A good one: the server starts on it and makes no <data>/mail.key of its own.
  const good = path.join(dir, 'good.key');
  writeFileSync(good, randomBytes(32), { mode: 0o600 });
  const server = await startSiarServer(t, data, ['--mail-key-file', good]);
  t.ok(server.port > 0, 'it listens');
  t.notOk(existsSync(path.join(data, 'mail.key')), 'no key of its own in the data directory');
});

t.test('the config file: an unknown key (with the nearest one), a bad line, a missing file', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const cases: Array<[string, RegExp]> = [
    [write('typo.yml', 'max-body: 10\nmax-conections: 5\nmaxFrame: 4KiB\n'), /:2: unknown key "max-conections"; did you mean "max-connections"\?\n {2}\S+:3: unknown key "maxFrame"; did you mean "max-frame"\?/],
    [write('far.yml', 'colour: blue\n'), /far\.yml:1: unknown key "colour" \(the keys are the flags of `siar server --help`, without their dashes\)\./],
    [write('syntax.yml', 'max-body: [1\n'), /syntax\.yml:2: not valid YAML: /],
    [write('list.yml', 'transfer-ports:\n  - 40000\n'), /list\.yml:1: transfer-ports must be one value \(text or a number\), not a list or a map\./],
    [write('empty-value.yml', 'smtp:\n'), /empty-value\.yml:1: smtp has no value; give one, or remove the line for the default\./],
    [write('twice.yml', 'port: 1\nport: 2\n'), /twice\.yml:2: not valid YAML: Map keys must be unique\./],
    [write('not-a-map.yml', '- port: 1\n'), /not-a-map\.yml: the file must be a list of `key: value` lines/],
    [path.join(dir, 'missing.yml'), /Cannot read the config file \S+missing\.yml: ENOENT/],
  ];
  const runs = await Promise.all(cases.map(([file]) => siar(['server', '--config', file, '--print-config'])));
  cases.forEach(([file, message], i) => {
    t.equal(runs[i]!.code, 1, path.basename(file));
    t.match(runs[i]!.stderr, message, runs[i]!.stderr.trim());
  });
  const comments = await printConfig(['--config', write('comments.yml', '# nothing set yet\n')]);
  t.equal(comments.settings['max-body']!.source, 'default', 'a file of comments changes nothing');
});

t.test('--print-config shows every effective value and its source, as a config file that reads back the same', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'server.yml');
  writeFileSync(file, 'max-body: 1000\nidle-timeout: 90s\n');
  const args = ['--config', file, '--max-transfers', '300', '--data', path.join(dir, 'data')];
  const env = { SIAR_SMTP: 'smtp://siar:hunter2-secret@127.0.0.1:2525', SIAR_MAX_FRAME: '128K' };
  const text = await siar(['server', '--print-config', ...args], env);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, new RegExp(`^# Config file: ${file}$`, 'm'));
  t.match(text.stdout, new RegExp(`^max-body: 1000 +# ${file}:1$`, 'm'), 'from the file, with its line');
  t.match(text.stdout, new RegExp(`^idle-timeout: 90s +# ${file}:2$`, 'm'));
  t.match(text.stdout, /^max-frame: 128KiB +# SIAR_MAX_FRAME$/m, 'from the environment, in its unit');
  t.match(text.stdout, /^max-transfers: 300 +# --max-transfers$/m, 'from a flag');
  t.match(text.stdout, /^smtp: smtp:\/\/siar:\*\*\*@127\.0\.0\.1:2525 +# SIAR_SMTP$/m, 'the SMTP password masked');
  t.match(text.stdout, /^session-lifetime: 12h +# default$/m, 'a default');
  t.match(text.stdout, /^max-connections: \d+ +# default(: the open-files limit \d+ minus a reserve of \d+)?$/m, 'the connection cap the server would use');
  t.match(text.stdout, /^#transfer-host: +# not set: the address the client reached$/m, 'an unset option says what that means');
  t.notOk(text.stdout.includes('hunter2-secret'));
  for (const o of SERVER_OPTIONS) t.match(text.stdout, new RegExp(`^#?${o.name}:`, 'm'), `${o.name} is printed`);

  // Saved as a file, the printout gives the same settings (the masked password aside).
  const saved = path.join(dir, 'saved.yml');
  writeFileSync(saved, text.stdout.replace('siar:***@', 'siar:other@'));
  const original = await printConfig(args, env);
  const reread = await printConfig(['--config', saved]);
  for (const o of SERVER_OPTIONS) t.same(reread.settings[o.name]!.value, original.settings[o.name]!.value, `${o.name} reads back`);
  t.match(original, { configFile: file, settings: { 'max-body': { value: 1000, source: 'file', origin: `${file}:1` }, 'max-frame': { value: '128KiB', source: 'env', origin: 'SIAR_MAX_FRAME' } } });
});

t.test('contrib/server.yml: with every line uncommented, the server takes each value', async (t) => {
  const example = readFileSync(path.join(ROOT, 'contrib/server.yml'), 'utf8');
  const file = path.join(tempDir(t), 'server.yml');
  writeFileSync(file, example.replace(/^#([a-z][a-z-]*: )/gm, '$1'));
  const printed = await printConfig(['--config', file]);
  for (const o of SERVER_OPTIONS) t.equal(printed.settings[o.name]!.source, 'file', `${o.name} is in the example`);
});

t.test('--help lists the options by group and says how else to set them', async (t) => {
  const r = await siar(['server', '--help']);
  t.equal(r.code, 0);
  for (const group of new Set(SERVER_OPTIONS.map((o) => o.group))) t.match(r.stdout, new RegExp(`^${group}$`, 'm'), group);
  t.match(r.stdout, /--idle-timeout +a connection that sends nothing/);
  t.match(r.stdout, /SIAR_MAX_CONNECTIONS/);
  t.match(r.stdout, /--config/);
  const json = await siar(['server', '--json']);
  t.match(json, { code: 1, stderr: /--json goes with --print-config\./ });
});
