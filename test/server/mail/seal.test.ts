import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MailSealer, SealError } from '../../../src/server/mail/index.js';

const TEXT = 'Dear Ana,\n\nUsername: ana\nPassword: Sécret-ñ-🔑 42\n';

t.test('a sealed text unseals to the same text', async (t) => {
  const sealer = await MailSealer.open(t.testdir());
  const sealed = sealer.seal(TEXT);
  t.match(sealed, /^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
  t.notOk(sealed.includes('Password'), 'the sealed form does not show the text');
  t.equal(sealer.unseal(sealed), TEXT);
  t.equal(sealer.unseal(sealer.seal('')), '', 'the empty text round-trips too');
});

t.test('sealing the same text twice gives different output (random IV)', async (t) => {
  const sealer = await MailSealer.open(t.testdir());
  const a = sealer.seal(TEXT);
  const b = sealer.seal(TEXT);
  t.not(a, b);
  t.equal(sealer.unseal(a), sealer.unseal(b));
});

t.test('a sealed text whose ciphertext was altered is refused', async (t) => {
  const sealer = await MailSealer.open(t.testdir());
  const [v, iv, tag, ct] = sealer.seal(TEXT).split('.') as [string, string, string, string];
  const bytes = Buffer.from(ct, 'base64');
  bytes[3] = (bytes[3] ?? 0) ^ 0x01;
  const tampered = [v, iv, tag, bytes.toString('base64')].join('.');
  t.throws(() => sealer.unseal(tampered), { name: 'SealError', message: /altered or sealed with another key/ });

  const tagBytes = Buffer.from(tag, 'base64');
  tagBytes[0] = (tagBytes[0] ?? 0) ^ 0x80;
  t.throws(() => sealer.unseal([v, iv, tagBytes.toString('base64'), ct].join('.')), SealError, 'an altered tag is refused');
});

t.test('a text sealed with another key is refused', async (t) => {
  const one = await MailSealer.open(t.testdir());
  const other = new MailSealer(randomBytes(32));
  t.throws(() => other.unseal(one.seal(TEXT)), { name: 'SealError' });
});

t.test('malformed sealed texts are refused with a clear error', async (t) => {
  const sealer = await MailSealer.open(t.testdir());
  const good = sealer.seal(TEXT);
  const [, iv, tag, ct] = good.split('.') as [string, string, string, string];
  for (const bad of ['', 'plain text', `v2.${iv}.${tag}.${ct}`, `v1.${iv}.${tag}`, `v1.${iv}.${tag}.${ct}.x`, `v1.${iv}.${tag}.***`, `v1.AAAA.${tag}.${ct}`, `v1.${iv}.AAAA.${ct}`]) {
    t.throws(() => sealer.unseal(bad), { name: 'SealError', message: /sealed mail text/ }, JSON.stringify(bad.slice(0, 20)));
  }
});

t.test('the key file is created with mode 0600 and reused when opened again', async (t) => {
  const dir = t.testdir();
  const first = await MailSealer.open(dir);
  const file = join(dir, 'mail.key');
  const info = await stat(file);
  t.equal(info.mode & 0o777, 0o600, 'mode 0600');
  t.equal(info.size, 32, '32 bytes');
  const key = await readFile(file);

  const second = await MailSealer.open(dir);
  t.same(await readFile(file), key, 'the key file is unchanged');
  t.equal(second.unseal(first.seal(TEXT)), TEXT, 'the reopened sealer has the same key');
  t.strictSame((await readdir(dir)).sort(), ['mail.key'], 'no temp files are left behind');
});

t.test('an existing key file is used, never replaced', async (t) => {
  const dir = t.testdir();
  const key = randomBytes(32);
  await writeFile(join(dir, 'mail.key'), key, { mode: 0o600 });
  const sealer = await MailSealer.open(dir);
  t.equal(new MailSealer(key).unseal(sealer.seal(TEXT)), TEXT);
  t.same(await readFile(join(dir, 'mail.key')), key);
});

t.test('a key file of the wrong length is refused and left alone', async (t) => {
  const dir = t.testdir({ 'mail.key': 'short' });
  await t.rejects(MailSealer.open(dir), { message: /holds 5 bytes, expected 32/ });
  t.equal(await readFile(join(dir, 'mail.key'), 'utf8'), 'short');
});

t.test('sealers opened at the same time on a new data dir agree on one key', async (t) => {
  const dir = join(t.testdir(), 'data');
  const sealers = await Promise.all(Array.from({ length: 8 }, () => MailSealer.open(dir)));
  const sealed = sealers[0]!.seal(TEXT);
  for (const s of sealers) t.equal(s.unseal(sealed), TEXT);
  t.strictSame(await readdir(dir), ['mail.key']);
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'a missing data dir is created with mode 0700');
});
