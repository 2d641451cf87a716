/**
 * Sealing of queued mail text. Mail sits in the queue until it is sent and credentials mail holds a
 * password, so the text is stored encrypted (AES-256-GCM) with a 32-byte key: by default
 * `<dataDir>/mail.key` (made at the first start), or the file `--mail-key-file` names, which every
 * node of a cluster shares (openFile checks it and refuses a bad one with a sentence saying what to
 * do). A copy of the database alone does not reveal the passwords.
 *
 * A sealed text is `v2.<fingerprint>.<iv>.<tag>.<ciphertext>`: the fingerprint names the key that
 * sealed it (a keyed hash, 16 hex digits: it tells keys apart and reveals nothing of them), so a
 * node whose key is another one knows at once that the mail is not its to send (ForeignKeyError)
 * rather than taking it for damaged. The fingerprint is authenticated with the text (GCM's
 * additional data). Texts sealed before fingerprints (`v1.<iv>.<tag>.<ciphertext>`) still unseal.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { access, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v2';
const LEGACY_VERSION = 'v1';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const FINGERPRINT = /^[0-9a-f]{16}$/;

/** How to make a shared key file, for the sentences that refuse one. */
export function makeKeyAdvice(file: string): string {
  return `make one for every node with \`(umask 077; head -c 32 /dev/urandom > ${file})\`, or copy there the <data>/mail.key of a node that has mail queued`;
}

/** Thrown by `unseal` for text that is malformed, altered, or sealed with another key. */
export class SealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealError';
  }
}

/** Thrown by `unseal` for text sealed with another key (its fingerprint is not this sealer's). */
export class ForeignKeyError extends SealError {
  constructor(readonly sealedWith: string, readonly ours: string) {
    super(`the mail text was sealed with the mail key ${sealedWith}, not this node's ${ours}`);
    this.name = 'ForeignKeyError';
  }
}

/** Thrown by `MailSealer.openFile` for a key file that cannot be used; the message says what to do. */
export class MailKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailKeyError';
  }
}

export class MailSealer {
  readonly #key: Buffer;
  /** Names the key (16 hex digits) without revealing it: in every sealed text and in the log. */
  readonly fingerprint: string;

  /** Use `MailSealer.open` or `openFile`; the constructor is for callers that manage the key themselves. */
  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`mail key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
    this.fingerprint = createHmac('sha256', this.#key).update('siar mail key fingerprint').digest('hex').slice(0, 16);
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

  /**
   * Loads the key file `--mail-key-file` names, the one every node of a cluster shares. It is never
   * created here (each node making its own would defeat the point): a file that is missing, not a
   * regular file, unreadable, not exactly 32 bytes, or open to anyone but its owner (mode looser than
   * 0600) is refused with a MailKeyError naming the file and what to do. Its bytes are never shown.
   */
  static async openFile(file: string): Promise<MailSealer> {
    const named = `the mail key file ${file} (mail-key-file)`;
    let info: Stats;
    try {
      info = await stat(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new MailKeyError(`${named} does not exist: ${makeKeyAdvice(file)}.`);
      throw new MailKeyError(`${named} cannot be reached (${code ?? (err as Error).message}): check the directories on its path.`);
    }
    if (!info.isFile()) throw new MailKeyError(`${named} is not a regular file: ${makeKeyAdvice(file)}.`);
    if (info.size !== KEY_BYTES) {
      throw new MailKeyError(`${named} holds ${info.size} bytes; a mail key is exactly ${KEY_BYTES} random bytes: ${makeKeyAdvice(file)}.`);
    }
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new MailKeyError(`${named} has mode ${mode}: users other than its owner have access to it (a mail key must be 0600); \`chmod 600 ${file}\` (and give it to the user siar runs as).`);
    }
    let key: Buffer;
    try {
      await access(file, constants.R_OK);
      key = await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new MailKeyError(`${named} cannot be read by this process (${code ?? (err as Error).message}): give it to the user siar runs as, mode 0600.`);
    }
    if (key.length !== KEY_BYTES) throw new MailKeyError(`${named} changed while it was read (${key.length} bytes); start again.`);
    return new MailSealer(key);
  }

  /** The fingerprint of the key that sealed `sealed`, or null (a v1 text, or not a sealed text). */
  static sealedWith(sealed: string): string | null {
    const parts = sealed.split('.', 3);
    return parts[0] === VERSION && parts[1] !== undefined && FINGERPRINT.test(parts[1]) ? parts[1] : null;
  }

  /** Encrypts `text`: `v2.<fingerprint>.<iv b64>.<tag b64>.<ciphertext b64>`. */
  seal(text: string): string {
    const iv = randomBytes(IV_BYTES);
    const header = `${VERSION}.${this.fingerprint}`;
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(header, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [header, iv.toString('base64'), tag.toString('base64'), ciphertext.toString('base64')].join('.');
  }

  /**
   * Decrypts what `seal` produced (or a v1 text of before); throws a ForeignKeyError for a text
   * sealed with another key, a SealError for anything else.
   */
  unseal(sealed: string): string {
    const parts = sealed.split('.');
    const version = parts[0] ?? '';
    let header: string | null;
    let rest: string[];
    if (version === VERSION) {
      if (parts.length !== 5) throw new SealError('sealed mail text is malformed: expected v2.<key>.<iv>.<tag>.<ciphertext>');
      const fingerprint = parts[1]!;
      if (!FINGERPRINT.test(fingerprint)) throw new SealError('sealed mail text is malformed: bad key fingerprint');
      if (fingerprint !== this.fingerprint) throw new ForeignKeyError(fingerprint, this.fingerprint);
      header = `${VERSION}.${fingerprint}`;
      rest = parts.slice(2);
    } else if (version === LEGACY_VERSION) {
      if (parts.length !== 4) throw new SealError('sealed mail text is malformed: expected v1.<iv>.<tag>.<ciphertext>');
      header = null;
      rest = parts.slice(1);
    } else {
      throw new SealError(`sealed mail text has unknown version ${JSON.stringify(version.slice(0, 16))}`);
    }
    const [ivB64, tagB64, ctB64] = rest as [string, string, string];
    const iv = decode(ivB64, 'iv');
    const tag = decode(tagB64, 'tag');
    const ciphertext = decode(ctB64, 'ciphertext');
    if (iv.length !== IV_BYTES) throw new SealError('sealed mail text is malformed: bad iv length');
    if (tag.length !== TAG_BYTES) throw new SealError('sealed mail text is malformed: bad tag length');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    if (header !== null) decipher.setAAD(Buffer.from(header, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SealError(header === null
        ? 'sealed mail text failed authentication: it was altered or sealed with another key'
        : 'sealed mail text failed authentication: it was altered');
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
