import t from 'tap';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ForeignKeyError, MailKeyError, MailSealer, SealError } from '../../../src/server/mail/index.js';
import { sealV1 } from './helpers.js';

const TEXT = 'Dear Ana,\n\nUsername: ana\nPassword: Sécret-ñ-🔑 42\n';

t.test('a sealed text unseals to the same text', async (t) => {
  const sealer = await MailSealer.open(t.testdir());
  const sealed = sealer.seal(TEXT);
  t.match(sealed, /^v2\.[0-9a-f]{16}\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
  t.equal(sealed.split('.')[1], sealer.fingerprint, 'the text names the key that sealed it');
  t.equal(MailSealer.sealedWith(sealed), sealer.fingerprint);
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
  const [v, fp, iv, tag, ct] = sealer.seal(TEXT).split('.') as [string, string, string, string, string];
  const bytes = Buffer.from(ct, 'base64');
  bytes[3] = (bytes[3] ?? 0) ^ 0x01;
  const tampered = [v, fp, iv, tag, bytes.toString('base64')].join('.');
  t.throws(() => sealer.unseal(tampered), { name: 'SealError', message: /failed authentication: it was altered$/ });

  const tagBytes = Buffer.from(tag, 'base64');
  tagBytes[0] = (tagBytes[0] ?? 0) ^ 0x80;
  t.throws(() => sealer.unseal([v, fp, iv, tagBytes.toString('base64'), ct].join('.')), SealError, 'an altered tag is refused');
});

t.test('a text sealed with another key is refused as foreign, naming both keys, before any decryption', async (t) => {
  const dir = t.testdir();
  const one = await MailSealer.open(dir);
  const other = new MailSealer(randomBytes(32));
  t.not(one.fingerprint, other.fingerprint, 'two keys, two fingerprints');
  t.equal(new MailSealer(Buffer.from(await readFile(MailSealer.keyPath(dir)))).fingerprint, one.fingerprint, 'the fingerprint follows the key');
  const err = t.throws(() => other.unseal(one.seal(TEXT))) as ForeignKeyError;
  t.ok(err instanceof ForeignKeyError && err instanceof SealError, 'a ForeignKeyError, a kind of SealError');
  t.match(err, { sealedWith: one.fingerprint, ours: other.fingerprint, message: `the mail text was sealed with the mail key ${one.fingerprint}, not this node's ${other.fingerprint}` });
  t.notOk(err.message.includes(TEXT.slice(0, 8)));

  // The fingerprint is sealed with the text: putting the right one on another key's text does not help.
  const [v, , iv, tag, ct] = one.seal(TEXT).split('.') as [string, string, string, string, string];
  t.throws(() => other.unseal([v, other.fingerprint, iv, tag, ct].join('.')), { name: 'SealError', message: /it was altered/ });
});

t.test('mail sealed before fingerprints (v1) still unseals with its key; with another it fails authentication', async (t) => {
  const key = randomBytes(32);
  const legacy = sealV1(key, TEXT);
  t.equal(new MailSealer(key).unseal(legacy), TEXT);
  t.equal(MailSealer.sealedWith(legacy), null, 'a v1 text names no key');
  t.throws(() => new MailSealer(randomBytes(32)).unseal(legacy), { name: 'SealError', message: /altered or sealed with another key/ });
});

t.test('malformed sealed texts are refused with a clear error', async (t) => {
  const sealer = await MailSealer.open(t.testdir());
  const good = sealer.seal(TEXT);
  const [, , iv, tag, ct] = good.split('.') as [string, string, string, string, string];
  for (const bad of ['', 'plain text', `v3.${iv}.${tag}.${ct}`, `v2.${iv}.${tag}.${ct}`, `v2.XYZ.${iv}.${tag}.${ct}`, `v1.${iv}.${tag}`, `v1.${iv}.${tag}.${ct}.x`, `v1.${iv}.${tag}.***`, `v1.AAAA.${tag}.${ct}`, `v1.${iv}.AAAA.${ct}`]) {
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

t.test('a shared key file (--mail-key-file) is used as it is, never created or changed', async (t) => {
  const dir = t.testdir();
  const key = randomBytes(32);
  const file = join(dir, 'mail.key');
  await writeFile(file, key, { mode: 0o600 });
  const a = await MailSealer.openFile(file);
  t.equal(a.fingerprint, new MailSealer(key).fingerprint, 'the key in the file');
  const b = await MailSealer.openFile(file);
  t.equal(b.unseal(a.seal(TEXT)), TEXT, 'two nodes on the same file open each other\'s mail');
  await chmod(file, 0o400);
  t.equal((await MailSealer.openFile(file)).fingerprint, a.fingerprint, 'read-only for its owner (0400) is fine too');
  t.same(await readFile(file), key, 'the file is unchanged');
  t.strictSame(await readdir(dir), ['mail.key'], 'nothing else is written beside it');
});

t.test('a bad shared key file is refused with its path and what to do, never its bytes', async (t) => {
  const dir = t.testdir();
  const at = (name: string) => join(dir, name);
  const secretish = 'k'.repeat(31);
  await writeFile(at('short.key'), secretish, { mode: 0o600 });
  await writeFile(at('open.key'), randomBytes(32), { mode: 0o600 });
  await chmod(at('open.key'), 0o644);
  await writeFile(at('group.key'), randomBytes(32), { mode: 0o600 });
  await chmod(at('group.key'), 0o640);
  await mkdir(at('a-directory'));
  await symlink('/dev/null', at('device.key'));
  const cases: Array<[string, RegExp]> = [
    ['missing.key', /^the mail key file \S+missing\.key \(mail-key-file\) does not exist: make one for every node with `\(umask 077; head -c 32 \/dev\/urandom > \S+missing\.key\)`, or copy there the <data>\/mail\.key of a node that has mail queued\.$/],
    ['short.key', /^the mail key file \S+short\.key \(mail-key-file\) holds 31 bytes; a mail key is exactly 32 random bytes: make one/],
    ['open.key', /^the mail key file \S+open\.key \(mail-key-file\) has mode 0644: users other than its owner have access to it \(a mail key must be 0600\); `chmod 600 \S+open\.key`/],
    ['group.key', /has mode 0640: /],
    ['a-directory', /^the mail key file \S+a-directory \(mail-key-file\) is not a regular file: /],
    ['device.key', /device\.key \(mail-key-file\) is not a regular file: /],
    [join('missing-dir', 'mail.key'), /does not exist: /],
  ];
  for (const [name, message] of cases) {
    const err = await MailSealer.openFile(at(name)).then(() => null, (e: unknown) => e);
    t.ok(err instanceof MailKeyError, `${name}: a MailKeyError`);
    t.match((err as Error).message, message, name);
    t.notOk((err as Error).message.includes(secretish), `${name}: the bytes are not shown`);
  }
  t.equal(await readFile(at('short.key'), 'utf8'), secretish, 'a refused file is left as it was');
  t.equal((await stat(at('open.key'))).mode & 0o777, 0o644, 'its mode too');
});
