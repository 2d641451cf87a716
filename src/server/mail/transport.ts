/**
 * Where mail goes: an SMTP server (`smtp://` or `smtps://` URL) or, when none is configured, files
 * in `<dataDir>/mail/` that an operator can open or forward (the embedded default).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path, { join } from 'node:path';
import nodemailer from 'nodemailer';
import { mailFileName, mailFolder } from './mail-folder.js';

export interface MailEnvelope {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** The mail_queue id; names the file and is sent as the X-Siar-Mail-Id header. */
  id: number;
  /** credentials, rejection, ... */
  kind: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'file';
  /** Where mail goes, for the start-up log: the folder, or the SMTP server without credentials. */
  readonly destination: string;
  /** Resolves once the mail was accepted (by the SMTP server, or written to disk). */
  send(mail: MailEnvelope): Promise<void>;
  close(): void;
}

export interface MailTransportOptions {
  /** smtp://user:pass@host:port or smtps://...; without it mail is written to files. */
  smtpUrl?: string;
  dataDir: string;
}

/** Timeouts so that an unreachable or stuck SMTP server fails the attempt instead of hanging. */
export const SMTP_TIMEOUTS = {
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 20_000,
  dnsTimeout: 10_000,
} as const;

export function createMailTransport(options: MailTransportOptions): MailTransport {
  const url = options.smtpUrl?.trim();
  return url ? new SmtpMailTransport(url) : new FileMailTransport(mailFolder(options.dataDir));
}

function message(mail: MailEnvelope) {
  return {
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    // CRLF before composing: nodemailer's quoted-printable wrapper (used for non-ASCII text) only
    // honours line ends it sees as CRLF; with bare LF it soft-breaks short lines mid-way, e.g.
    // `Password: =` with the password on the next line of the .eml.
    text: mail.text.replace(/\r?\n/g, '\r\n'),
    headers: { 'X-Siar-Mail-Id': String(mail.id), 'X-Siar-Mail-Kind': mail.kind },
  };
}

class SmtpMailTransport implements MailTransport {
  readonly kind = 'smtp' as const;
  readonly destination: string;
  readonly #transporter: nodemailer.Transporter;

  constructor(smtpUrl: string) {
    let url: URL;
    try {
      url = new URL(smtpUrl);
    } catch {
      throw new Error('the SMTP URL is not a valid URL (expected smtp://host:port or smtps://host:port)');
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw new Error(`the SMTP URL must start with smtp:// or smtps://, not ${url.protocol}//`);
    }
    if (!url.hostname) throw new Error('the SMTP URL has no host');
    this.destination = `${url.protocol}//${url.host}`;
    // nodemailer reads options from the URL's query; settings the operator wrote there win.
    for (const [key, value] of Object.entries(SMTP_TIMEOUTS)) {
      if (!url.searchParams.has(key)) url.searchParams.set(key, String(value));
    }
    this.#transporter = nodemailer.createTransport(url.toString());
  }

  async send(mail: MailEnvelope): Promise<void> {
    await this.#transporter.sendMail({ ...message(mail), disableFileAccess: true, disableUrlAccess: true });
  }

  close(): void {
    this.#transporter.close();
  }
}

class FileMailTransport implements MailTransport {
  readonly kind = 'file' as const;
  readonly destination: string;
  readonly #dir: string;
  readonly #composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });

  constructor(dir: string) {
    this.#dir = dir;
    this.destination = `${path.resolve(dir)}${path.sep} (.eml files: siar admin mail list)`;
  }

  async send(mail: MailEnvelope): Promise<void> {
    const info = await this.#composer.sendMail({ ...message(mail), disableFileAccess: true, disableUrlAccess: true });
    const eml = info.message;
    if (!Buffer.isBuffer(eml)) throw new Error('the mail composer did not return a buffer');
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeAtomically(join(this.#dir, mailFileName(new Date(), mail.id, mail.kind)), eml);
  }

  close(): void {
    this.#composer.close();
  }
}

/** Writes to a temp file in the same folder (mode 0600, must not exist), syncs, then renames. */
async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}
