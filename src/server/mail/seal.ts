/**
 * Sealing of queued mail text. Mail sits in the queue until it is sent and credentials mail holds a
 * password, so the text is stored encrypted (AES-256-GCM) with a key kept beside the database in
 * `<dataDir>/mail.key`. A copy of the database alone does not reveal the passwords.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Thrown by `unseal` for text that is malformed, altered, or sealed with another key. */
export class SealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealError';
  }
}

export class MailSealer {
  readonly #key: Buffer;

  /** Use `MailSealer.open`; the constructor is for callers that manage the key themselves. */
  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`mail key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  /** The key file path inside a data directory. */
  static keyPath(dataDir: string): string {
    return join(dataDir, 'mail.key');
  }

  /**
   * Loads `<dataDir>/mail.key`, creating it (32 random bytes, mode 0600) when it does not exist.
   * An existing key is never overwritten, even when two processes race to create it.
   */
  static async open(dataDir: string): Promise<MailSealer> {
    const file = MailSealer.keyPath(dataDir);
    const existing = await readKey(file);
    if (existing) return new MailSealer(existing);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const created = await createKey(file);
    return new MailSealer(created);
  }

  /** Encrypts `text`: `v1.<iv b64>.<tag b64>.<ciphertext b64>`. */
  seal(text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const ciphertext = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64'), tag.toString('base64'), ciphertext.toString('base64')].join('.');
  }

  /** Decrypts what `seal` produced; throws a SealError for anything else. */
  unseal(sealed: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 4) throw new SealError('sealed mail text is malformed: expected v1.<iv>.<tag>.<ciphertext>');
    const [version, ivB64, tagB64, ctB64] = parts as [string, string, string, string];
    if (version !== VERSION) throw new SealError(`sealed mail text has unknown version ${JSON.stringify(version.slice(0, 16))}`);
    const iv = decode(ivB64, 'iv');
    const tag = decode(tagB64, 'tag');
    const ciphertext = decode(ctB64, 'ciphertext');
    if (iv.length !== IV_BYTES) throw new SealError('sealed mail text is malformed: bad iv length');
    if (tag.length !== TAG_BYTES) throw new SealError('sealed mail text is malformed: bad tag length');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SealError('sealed mail text failed authentication: it was altered or sealed with another key');
    }
  }
}

function decode(part: string, what: string): Buffer {
  if (!BASE64.test(part) || part.length % 4 !== 0) throw new SealError(`sealed mail text is malformed: bad base64 in ${what}`);
  return Buffer.from(part, 'base64');
}

async function readKey(file: string): Promise<Buffer | null> {
  let key: Buffer;
  try {
    key = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (key.length !== KEY_BYTES) {
    throw new Error(`${file} holds ${key.length} bytes, expected ${KEY_BYTES}; refusing to use or replace it`);
  }
  return key;
}

/** Writes a fresh key to a temp file, then moves it into place without replacing an existing key. */
async function createKey(file: string): Promise<Buffer> {
  const key = randomBytes(KEY_BYTES);
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(key);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    try {
      // link() fails with EEXIST instead of replacing, so a key another process made first wins.
      await link(temp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        const theirs = await readKey(file);
        if (theirs) return theirs;
        throw err;
      }
      // File systems without hard links: fall back to rename, still refusing to replace a key.
      if (await exists(file)) {
        const theirs = await readKey(file);
        if (theirs) return theirs;
      }
      await rename(temp, file);
      return key;
    }
    return key;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
