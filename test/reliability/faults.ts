/**
 * Helpers for the crash-safety test (issue 7 item 5): members that keep sending messages and
 * attachments through server kills, a ledger of what each was told, and the checks run on the
 * data dir afterwards. Not a test file (tap runs `*.test.ts`).
 *
 * Every message carries a unique subject tag (`<sender>-<seq>`) recorded *before* it is sent
 * (its intent: recipients, files), so any row found in the database can be traced to exactly one
 * attempt, whether or not its acknowledgement reached the sender before the kill.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { SMTPServer } from 'smtp-server';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { TransferError, declareFile, encodeDeclaration, uploadFile, type LocalFile } from '../../src/client/transfer.js';
import { decodeAttachment, type AttachmentInfo } from '../../src/protocol/index.js';
import { rng } from '../../bench/lib/stats.js';
import { sleep } from './helpers.js';

// --- deterministic randomness --------------------------------------------------------------------

/** mulberry32 (the bench's), so a failing run can be replayed with its seed. */
export const seededRandom = rng;

export function randomInt(rnd: () => number, min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}

/** `count` files of random bytes (1 KiB … maxBytes) with distinct names, declared (size, sha256). */
export async function makeFilePool(dir: string, count: number, maxBytes: number, rnd: () => number): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `crash-file-${i}.bin`);
    writeFileSync(file, randomBytes(randomInt(rnd, 1024, maxBytes)));
    out.push(await declareFile(file));
  }
  return out;
}

// --- what the clients were told --------------------------------------------------------------------

export interface Intent {
  tag: string;
  sender: string;
  /** Usernames; for a broadcast every other member. */
  to: string[];
  broadcast: boolean;
  files: LocalFile[];
}

export class Ledger {
  readonly intents = new Map<string, Intent>();
  /** tag → message id, for every SEND answered OK (the message is stored). */
  readonly acked = new Map<string, number>();
  /** Tags whose sender learnt that the message went out (no attachments, or the last one committed). */
  readonly completed = new Set<string>();
  /**
   * recipient → message id → the server lives in which its popup arrived. Popups are at least
   * once on the wire: one written just before a kill, whose "delivered" mark had not committed
   * yet, is replayed at the next login. Clients show a message id once (`siar listen`, the TUI),
   * so a repeat across a restart is harmless; a repeat within one server life would be a bug.
   */
  readonly popups = new Map<string, Map<number, number[]>>();
  /** Errors no kill explains (wrong replies, refused uploads…): the test expects none. */
  readonly unexpected: string[] = [];

  intend(intent: Intent): void {
    this.intents.set(intent.tag, intent);
  }

  popup(recipient: string, messageId: number, generation: number): void {
    const mine = this.popups.get(recipient) ?? new Map<number, number[]>();
    this.popups.set(recipient, mine);
    mine.set(messageId, [...(mine.get(messageId) ?? []), generation]);
  }
}

/** The server's life counter, shared by the orchestrator and the clients. */
export interface Generation {
  value: number;
}

// --- a member that keeps working through kills ------------------------------------------------------

export interface CrashClientOptions {
  port: number;
  username: string;
  password: string;
  /** Every member's username (recipients are chosen among the others). */
  everyone: string[];
  files: LocalFile[];
  ledger: Ledger;
  generation: Generation;
  rnd: () => number;
  /** Chance that a message is a broadcast / carries attachments. */
  broadcastRate: number;
  attachmentRate: number;
  /** Pause between two sends, ms. */
  pauseMs: [number, number];
}

interface PendingUpload {
  tag: string;
  id: number;
  attachments: AttachmentInfo[];
  uploaded: Set<number>;
}

/**
 * One member: connects (retrying while the server is down), logs in, and sends in a loop; a
 * message with attachments is finished (uploads resumed) after every reconnect before the next
 * one is sent. A SEND whose reply was lost is not repeated: its outcome is for the checks to find.
 */
export class CrashClient {
  client: SiarClient | null = null;
  /** Server generation of the latest successful LOGIN. */
  loggedInGeneration = -1;
  logins = 0;
  sent = 0;
  private seq = 0;
  private pending: PendingUpload | null = null;
  private stopping = false;
  /** True once stopped with nothing left to upload. */
  idle = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly o: CrashClientOptions) {}

  get username(): string {
    return this.o.username;
  }

  /** True while a message of this member waits for (some of) its attachments. */
  get uploading(): boolean {
    return this.pending !== null;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops sending new messages; resolves once the unfinished one (if any) is complete. */
  async finish(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  close(): void {
    this.client?.close();
  }

  private async run(): Promise<void> {
    let backoff = 50;
    while (!this.idle) {
      let c: SiarClient | null = null;
      try {
        c = await SiarClient.connect({ host: '127.0.0.1', port: this.o.port, connectTimeoutMs: 10_000, requestTimeoutMs: 120_000 });
        const generation = this.o.generation.value;
        c.on('push', (event, args) => {
          if (event === 'POPUP') this.o.ledger.popup(this.o.username, Number(args.get('id')), generation);
        });
        await c.login(this.o.username, this.o.password);
        this.client = c;
        this.logins++;
        this.loggedInGeneration = generation;
        backoff = 50;
        await this.work(c);
      } catch (err) {
        if (c && !c.isClosed) {
          this.o.ledger.unexpected.push(`${this.o.username}: ${describe(err)}`);
          c.close();
        }
        // The server is down or restarting: try again shortly.
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  private async work(c: SiarClient): Promise<void> {
    for (;;) {
      if (this.pending) await this.finishPending(c, this.pending);
      if (this.stopping) {
        this.idle = true;
        return;
      }
      await this.sendOne(c);
      await sleep(randomInt(this.o.rnd, ...this.o.pauseMs));
    }
  }

  private async sendOne(c: SiarClient): Promise<void> {
    const { rnd, everyone, username, ledger } = this.o;
    const others = everyone.filter((u) => u !== username);
    const broadcast = rnd() < this.o.broadcastRate;
    const to = broadcast ? others : pickDistinct(others, randomInt(rnd, 1, Math.min(3, others.length)), rnd);
    const files = rnd() < this.o.attachmentRate ? pickDistinct(this.o.files, randomInt(rnd, 1, 2), rnd) : [];
    const tag = `${username}-${this.seq++}`;
    ledger.intend({ tag, sender: username, to, broadcast, files });
    const reply = await c.request('SEND', {
      ...(broadcast ? { all: 1 } : { to }), subject: tag, body: `crash test message ${tag}`, attach: files.map(encodeDeclaration),
    });
    const id = Number(reply.args.get('id'));
    ledger.acked.set(tag, id);
    this.sent++;
    if (files.length === 0) {
      ledger.completed.add(tag);
      return;
    }
    const attachments = reply.args.getAll('attachment').map(decodeAttachment).filter((a): a is AttachmentInfo => a !== null);
    this.pending = { tag, id, attachments, uploaded: new Set() };
  }

  /** Uploads what is missing (resuming after a kill); ALREADY_UPLOADED means a commit whose verdict was lost. */
  private async finishPending(c: SiarClient, p: PendingUpload): Promise<void> {
    const intent = this.o.ledger.intents.get(p.tag)!;
    let sent = false;
    for (const a of p.attachments) {
      if (p.uploaded.has(a.id)) continue;
      const file = intent.files.find((f) => f.name === a.name && f.sha256 === a.sha256);
      if (!file) throw new Error(`${p.tag}: the server listed an attachment that was not declared: ${a.name}`);
      try {
        const r = await uploadFile(c, { messageId: p.id, attachmentId: a.id, path: file.path }, undefined, { retries: 5 });
        sent ||= r.sent;
      } catch (err) {
        if (!(err instanceof TransferError && err.code === 'ALREADY_UPLOADED')) throw err;
      }
      p.uploaded.add(a.id);
    }
    if (!sent) {
      // The verdict of the last upload may have died with the server: ask.
      const state = (await c.request('READ', { id: p.id })).args.get('state') ?? 'sent';
      if (state !== 'sent') throw new Error(`${p.tag}: every attachment is in but the message is ${state}`);
    }
    this.o.ledger.completed.add(p.tag);
    this.pending = null;
  }
}

function pickDistinct<T>(from: T[], n: number, rnd: () => number): T[] {
  const pool = [...from];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0]!);
  return out;
}

function describe(err: unknown): string {
  if (err instanceof RemoteError || err instanceof TransferError) return `${err.code} ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Every inbox row of a logged-in member: message id → rows (paged with before=). */
export async function inboxCounts(c: SiarClient): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  let before: number | undefined;
  for (;;) {
    const page = await c.request('INBOX', { limit: 500, ...(before !== undefined ? { before } : {}) });
    for (const item of page.items) {
      const id = Number(item.get('id'));
      counts.set(id, (counts.get(id) ?? 0) + 1);
      before = before === undefined ? id : Math.min(before, id);
    }
    if (page.items.length < 500) return counts;
  }
}

/** Logs the administrator in (changing a must-change password first, as the mailed one is single-use). */
export async function adminClient(port: number, dataDir: string): Promise<SiarClient> {
  const file = path.join(dataDir, 'admin-password');
  const password = readFileSync(file, 'utf8').trim();
  const c = await SiarClient.connect({ host: '127.0.0.1', port });
  const who = await c.login('admin', password);
  if (who.mustChangePassword) {
    const fresh = `admin-${randomBytes(12).toString('base64url')}`;
    await c.request('PASSWD', { old: password, new: fresh });
    writeFileSync(file, `${fresh}\n`, { mode: 0o600 });
  }
  return c;
}

// --- what the data dir holds afterwards ----------------------------------------------------------------

export interface StoredMessage {
  id: number;
  sender: string;
  subject: string;
  state: string;
  recipients: string[];
  attachments: Array<{ id: number; name: string; sha256: string; size: number; storagePath: string | null }>;
}

/** The messages, their recipient rows and attachments, read straight from the database file (read-only). */
export function readStoredMessages(dataDir: string): StoredMessage[] {
  const db = new Sqlite(path.join(dataDir, 'siar.db'), { readonly: true, fileMustExist: true });
  try {
    const messages = db.prepare(`
      SELECT m.id, u.username AS sender, m.subject, m.state FROM messages m JOIN users u ON u.id = m.sender_id ORDER BY m.id`)
      .all() as Array<{ id: number; sender: string; subject: string; state: string }>;
    const byId = new Map<number, StoredMessage>(messages.map((m) => [m.id, { ...m, recipients: [], attachments: [] }]));
    const rows = db.prepare(`SELECT r.message_id AS id, u.username FROM message_recipients r JOIN users u ON u.id = r.recipient_id`)
      .all() as Array<{ id: number; username: string }>;
    for (const r of rows) byId.get(r.id)?.recipients.push(r.username);
    const atts = db.prepare(`SELECT id, message_id AS messageId, name, sha256, size, storage_path AS storagePath FROM attachments`)
      .all() as Array<{ id: number; messageId: number; name: string; sha256: string; size: number; storagePath: string | null }>;
    for (const a of atts) byId.get(a.messageId)?.attachments.push({ id: a.id, name: a.name, sha256: a.sha256, size: a.size, storagePath: a.storagePath });
    return [...byId.values()];
  } finally {
    db.close();
  }
}

export interface StoreVerdict {
  /** Acknowledged (SEND OK) but not in the database. */
  lost: string[];
  /** More than one stored message for one attempt. */
  duplicates: string[];
  /** Stored messages no attempt explains. */
  strangers: string[];
  /** Recipient rows that are not exactly the intended set (for a sent message) or not none (otherwise). */
  halfDelivered: string[];
  /** Committed attachments whose file is missing or does not hash to its sha256; sent messages with uncommitted ones. */
  badAttachments: string[];
  /** Acknowledged messages not 'sent' at the end (every sender finished its uploads). */
  unfinished: string[];
  stored: number;
  storedUnacknowledged: number;
}

/** Checks the database against the ledger: nothing acknowledged lost, nothing doubled, nothing half-delivered. */
export function checkStore(dataDir: string, ledger: Ledger): StoreVerdict {
  const stored = readStoredMessages(dataDir);
  const v: StoreVerdict = {
    lost: [], duplicates: [], strangers: [], halfDelivered: [], badAttachments: [], unfinished: [], stored: stored.length, storedUnacknowledged: 0,
  };
  const byTag = new Map<string, StoredMessage[]>();
  for (const m of stored) byTag.set(m.subject, [...(byTag.get(m.subject) ?? []), m]);
  for (const [tag, id] of ledger.acked) {
    const found = byTag.get(tag);
    if (!found?.some((m) => m.id === id)) v.lost.push(`${tag} (id ${id})`);
  }
  const hashes = new Map<string, string>();
  for (const [tag, copies] of byTag) {
    const intent = ledger.intents.get(tag);
    if (!intent) {
      v.strangers.push(...copies.map((m) => `${m.id} "${tag}"`));
      continue;
    }
    if (copies.length > 1) v.duplicates.push(`${tag}: ids ${copies.map((m) => m.id).join(', ')}`);
    if (!ledger.acked.has(tag)) v.storedUnacknowledged++;
    for (const m of copies) {
      const want = m.state === 'sent' ? [...intent.to].sort() : [];
      const have = [...m.recipients].sort();
      if (want.join(',') !== have.join(',')) v.halfDelivered.push(`${tag} (${m.state}): rows for [${have.join(',')}], expected [${want.join(',')}]`);
      if (ledger.acked.has(tag) && m.state !== 'sent') v.unfinished.push(`${tag} is ${m.state}`);
      for (const a of m.attachments) {
        if (a.storagePath === null) {
          if (m.state === 'sent') v.badAttachments.push(`${tag}: ${a.name} not committed in a sent message`);
          continue;
        }
        const file = path.join(dataDir, ...a.storagePath.split('/'));
        if (!existsSync(file)) {
          v.badAttachments.push(`${tag}: ${a.name} committed but ${a.storagePath} is missing`);
          continue;
        }
        let digest = hashes.get(file);
        if (digest === undefined) {
          digest = createHash('sha256').update(readFileSync(file)).digest('hex');
          hashes.set(file, digest);
        }
        if (digest !== a.sha256) v.badAttachments.push(`${tag}: ${a.name} hashes to ${digest}, declared ${a.sha256}`);
      }
    }
  }
  return v;
}

/**
 * Files in <data>/tmp that no upload can resume: anything but `upload-<id>.part` of an attachment
 * not yet committed whose message still waits for it. Right after a restart only resumable
 * partial uploads may be there (the start-up sweep removes the rest).
 */
export function unresumableTmpFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'tmp');
  if (!existsSync(dir)) return [];
  const waiting = new Set<number>();
  for (const m of readStoredMessages(dataDir)) {
    if (m.state !== 'sending') continue;
    for (const a of m.attachments) if (a.storagePath === null) waiting.add(a.id);
  }
  return readdirSync(dir).filter((f) => {
    const id = /^upload-(\d+)\.part$/.exec(f)?.[1];
    return id === undefined || !waiting.has(Number(id));
  });
}

/** Files in <data>/tmp, and content files in <data>/attachments no attachment row refers to. */
export function orphanFiles(dataDir: string): { tmp: string[]; unreferenced: string[] } {
  const referenced = new Set(readStoredMessages(dataDir).flatMap((m) => m.attachments.map((a) => a.storagePath)).filter((p) => p !== null));
  const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
  const tmp = list(path.join(dataDir, 'tmp'));
  const unreferenced: string[] = [];
  for (const fan of list(path.join(dataDir, 'attachments'))) {
    for (const name of list(path.join(dataDir, 'attachments', fan))) {
      const rel = `attachments/${fan}/${name}`;
      if (!referenced.has(rel)) unreferenced.push(rel);
    }
  }
  return { tmp, unreferenced };
}

export interface PopupVerdict {
  /** Recipient rows of sent messages (each should have produced one popup shown). */
  expected: number;
  missing: string[];
  /** The same popup twice on the connections of one server life: a bug. */
  repeatedWithinLife: string[];
  /** Popups written again after a restart (the mark died with the server); clients show them once. */
  repeatedAfterRestart: number;
}

/** Popups missing or repeated, per recipient, against the stored recipient rows of sent messages. */
export function checkPopups(stored: StoredMessage[], ledger: Ledger): PopupVerdict {
  const v: PopupVerdict = { expected: 0, missing: [], repeatedWithinLife: [], repeatedAfterRestart: 0 };
  for (const m of stored) {
    if (m.state !== 'sent') continue;
    for (const r of m.recipients) {
      v.expected++;
      const lives = ledger.popups.get(r)?.get(m.id) ?? [];
      if (lives.length === 0) v.missing.push(`${r} never got a popup for ${m.id} (${m.subject})`);
      const distinct = new Set(lives).size;
      if (distinct < lives.length) v.repeatedWithinLife.push(`${r} got popup ${m.id} (${m.subject}) in lives ${lives.join(',')}`);
      v.repeatedAfterRestart += distinct - Math.min(1, distinct);
    }
  }
  return v;
}

// --- a busy database -----------------------------------------------------------------------------------

/**
 * A second connection to a server's database that can hold `BEGIN EXCLUSIVE` (in WAL mode: no
 * other connection may write; readers carry on), as a backup tool or a careless sqlite3 shell would.
 */
export class DatabaseLock {
  private readonly db: Sqlite.Database;

  constructor(file: string) {
    this.db = new Sqlite(file, { fileMustExist: true });
    // Taking the lock itself may have to wait for a commit of the server's in progress.
    this.db.pragma('busy_timeout = 10000');
  }

  hold(): void {
    this.db.exec('BEGIN EXCLUSIVE');
  }

  release(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  close(): void {
    this.release();
    this.db.close();
  }
}

export interface GatedSmtp {
  url: string;
  /** Raw messages whose DATA arrived (answered or still held at the gate). */
  received: string[];
  /** From now on DATA is answered (250), including any held. */
  open(): void;
  close(): Promise<void>;
}

/** A real SMTP server that holds its answer to DATA until open(): the mail worker waits mid-send. */
export async function gatedSmtp(): Promise<GatedSmtp> {
  let opened = false;
  const held: Array<() => void> = [];
  const received: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        if (opened) callback();
        else held.push(() => callback());
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('the SMTP server has no port');
  return {
    url: `smtp://127.0.0.1:${address.port}`,
    received,
    open() {
      opened = true;
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
