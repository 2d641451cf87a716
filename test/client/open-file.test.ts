/**
 * Opening a saved file with the system's default application: the opener is looked up on PATH
 * and started as a real child process (a recording script stands in for xdg-open/open), with the
 * absolute path as its one argument and no shell; without one, the caller is told so.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { findOnPath, openWithDefaultApp, openerName } from '../../src/client/open-file.js';
import { tempDir } from '../helpers/siar.js';

function fakeOpener(dir: string, name: string, record: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), `#!/bin/sh\nprintf '%s\\n' "$#" "$@" > '${record}'\n`);
  chmodSync(path.join(dir, name), 0o755);
}

async function recorded(file: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.endsWith('\n')) return text;
    if (Date.now() > deadline) throw new Error('the opener never ran');
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('the opener is xdg-open, or open on macOS', async (t) => {
  t.equal(openerName('linux'), 'xdg-open');
  t.equal(openerName('freebsd'), 'xdg-open');
  t.equal(openerName('darwin'), 'open');
});

t.test('a file name that looks like an option or a command reaches the opener as one path', async (t) => {
  const dir = tempDir(t);
  const record = path.join(dir, 'args.txt');
  fakeOpener(path.join(dir, 'bin'), 'xdg-open', record);
  const file = path.join(dir, '-rf $(touch pwned); x.txt');
  writeFileSync(file, 'x');
  const r = await openWithDefaultApp(file, { platform: 'linux', searchPath: `${path.join(dir, 'empty')}${path.delimiter}${path.join(dir, 'bin')}` });
  t.same(r, { opened: true, opener: 'xdg-open' });
  t.equal(await recorded(record), `1\n${file}\n`, 'one argument, the absolute path, unchanged');
  t.notOk(existsSync(path.join(dir, 'pwned')), 'no shell ran the name');
});

t.test('a relative path is made absolute; macOS runs open', async (t) => {
  const dir = tempDir(t);
  const record = path.join(dir, 'args.txt');
  fakeOpener(path.join(dir, 'bin'), 'open', record);
  const r = await openWithDefaultApp('poster.png', { platform: 'darwin', searchPath: path.join(dir, 'bin') });
  t.same(r, { opened: true, opener: 'open' });
  t.equal(await recorded(record), `1\n${path.resolve('poster.png')}\n`);
});

t.test('no opener on PATH: nothing runs and the caller hears which one is missing', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'xdg-open'), '#!/bin/sh\n'); // present but not executable
  t.equal(findOnPath('xdg-open', dir), null, 'a file without the execute bit is not an opener');
  t.same(await openWithDefaultApp(path.join(dir, 'a.txt'), { platform: 'linux', searchPath: dir }), { opened: false, opener: 'xdg-open' });
  t.same(await openWithDefaultApp('a.txt', { platform: 'linux', searchPath: '' }), { opened: false, opener: 'xdg-open' });
});
