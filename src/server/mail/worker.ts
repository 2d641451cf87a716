/**
 * The mail worker: takes due mail from the store's queue, unseals it, hands it to the transport and
 * records the outcome. Failed mail is retried later with exponential back-off; the administrator can
 * make failed mail due at once with `retryNow`.
 *
 * One pass at a time: a `kick` (or a poll tick, or a `retryNow`) during a pass schedules exactly one
 * more pass after it. Delivery is at-least-once: if the transport accepts a mail and the store then
 * fails to record it as sent, the mail will be sent again.
 *
 * Mail sealed with another mail key (a cluster whose nodes do not share one --mail-key-file) is left
 * as it is, for a node whose key opens it (each key's mail queue has a lease of its own, server.ts):
 * not counted as an attempt, not marked failed, and passed over so the mail behind it still goes
 * out. The first such mail of each other key is logged as one warning naming the problem.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { QueuedMail, Store } from '../../core/ports/store.js';
import { ForeignKeyError, type MailSealer } from './seal.js';
import type { MailTransport } from './transport.js';

/** The part of the Store the worker uses. */
export type MailStore = Pick<Store, 'dueMail' | 'markMailSent' | 'markMailFailed' | 'listMail' | 'getMail'>;

export interface MailWorkerOptions {
  store: MailStore;
  transport: MailTransport;
  sealer: MailSealer;
  /** The From address of every mail. */
  from: string;
  logger: Logger;
  /** How often to look for due mail; default 5000 ms. */
  pollMs?: number;
  /** Delay before the next attempt after `attempts` failed attempts (1 after the first failure). */
  backoff?: (attempts: number) => number;
  /** For tests: the current time in ms. */
  now?: () => number;
  /**
   * Whether this node sends the queue's mail now (on several nodes, only the holder of the mail
   * queue's lease does, so no mail goes out once per node); default always. Rescheduling
   * (retryNow) is a store write and happens on any node.
   */
  sendsHere?: () => boolean;
}

export type MailWorkerEvents = {
  sent: [id: number];
  failed: [id: number, error: string];
};

/** 15 s, 30 s, 1 min, 2 min, ... capped at 1 h. */
export function defaultBackoff(attempts: number): number {
  const n = Math.max(1, Math.floor(attempts));
  return Math.min(15_000 * 2 ** Math.min(n - 1, 30), HOUR);
}

const HOUR = 60 * 60 * 1000;
const BATCH = 50;
/** A mail that cannot be unsealed will not get better by itself; look again in an hour. */
const PERMANENT_RETRY_MS = HOUR;
const MAX_ERROR_LENGTH = 500;
const RETRY_PAGE = 1000;
/** Pages of due mail one pass reads at most; past them the next pass goes on from where it stopped. */
const MAX_PAGES_PER_PASS = 20;
/** Other keys warned about (once each); past this many no more warnings. */
const MAX_WARNED_KEYS = 64;

/** What became of one due mail. */
type Outcome = 'recorded' | 'unrecorded' | 'foreign';
type DueCursor = { nextAttemptAt: string; id: number };

interface RetryRequest {
  id: number | undefined;
  resolve: (count: number) => void;
  reject: (err: unknown) => void;
}

export class MailWorker extends EventEmitter<MailWorkerEvents> {
  readonly #store: MailStore;
  readonly #transport: MailTransport;
  readonly #sealer: MailSealer;
  readonly #from: string;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #backoff: (attempts: number) => number;
  readonly #now: () => number;
  readonly #sendsHere: () => boolean;

  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #retries: RetryRequest[] = [];
  /** Where the last pass stopped reading due mail, when it stopped for its page limit. */
  #resumeAfter: DueCursor | undefined;
  readonly #warnedKeys = new Set<string>();

  constructor(options: MailWorkerOptions) {
    super();
    this.#store = options.store;
    this.#transport = options.transport;
    this.#sealer = options.sealer;
    this.#from = options.from;
    this.#log = options.logger.child({ component: 'mail' });
    this.#pollMs = options.pollMs ?? 5000;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#now = options.now ?? Date.now;
    this.#sendsHere = options.sendsHere ?? (() => true);
  }

  /** Starts polling (and runs a first pass now). The timer does not keep the process alive. */
  start(): void {
    if (this.#stopped) throw new Error('the mail worker was stopped and cannot be started again');
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.kick(), this.#pollMs);
    this.#timer.unref();
    this.#log.debug({ transport: this.#transport.kind, pollMs: this.#pollMs }, 'mail worker started');
    void this.kick();
  }

  /**
   * Runs a pass now, or one more pass after the current one. The promise resolves when that pass is
   * done; it never rejects (problems are logged and reported through the events).
   */
  kick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const running = this.#loop().finally(() => {
      if (this.#running === running) this.#running = null;
    });
    this.#running = running;
    return running;
  }

  /** Stops polling and waits for a pass in flight. Mail not reached stays queued. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    if (this.#running) await this.#running;
    for (const request of this.#retries.splice(0)) request.reject(new Error('the mail worker was stopped'));
  }

  /**
   * Makes unsent mail due now: the one with `id`, or all of it. Resolves with how many mails were
   * rescheduled once that is recorded (the delivery pass follows; watch the 'sent'/'failed' events).
   * Mail that is already due is left as it is.
   *
   * The Store has no "make due" method, so this re-marks each mail with
   * `markMailFailed(id, lastError, now)`, which also counts an attempt.
   */
  retryNow(id?: number): Promise<number> {
    if (this.#stopped) return Promise.reject(new Error('the mail worker was stopped'));
    return new Promise<number>((resolve, reject) => {
      this.#retries.push({ id, resolve, reject });
      void this.kick();
    });
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      for (const request of this.#retries.splice(0)) {
        try {
          request.resolve(await this.#reschedule(request.id));
        } catch (err) {
          this.#log.error({ err: errorMessage(err), mailId: request.id }, 'could not reschedule mail');
          request.reject(err);
        }
      }
      if (!this.#sendsHere()) continue;
      try {
        if (await this.#pass()) this.#again = true;
      } catch (err) {
        this.#log.error({ err: errorMessage(err) }, 'mail pass failed');
      }
    } while (this.#again && !this.#stopped);
  }

  /**
   * One pass over due mail; returns true when it sent (or failed) a full page and more may be due.
   * Mail this node's key cannot open is passed over: the pass reads on past it, page by page (at
   * most MAX_PAGES_PER_PASS, then the next pass goes on from there), so it never holds up the rest.
   */
  async #pass(): Promise<boolean> {
    const now = this.#iso();
    let after = this.#resumeAfter;
    this.#resumeAfter = undefined;
    for (let page = 0; page < MAX_PAGES_PER_PASS; page++) {
      const due = await this.#store.dueMail(now, BATCH, after);
      let recorded = 0;
      let foreign = 0;
      for (const mail of due) {
        if (this.#stopped) return false;
        const outcome = await this.#deliver(mail);
        if (outcome === 'recorded') recorded++;
        else if (outcome === 'foreign') foreign++;
      }
      if (due.length < BATCH) return false;
      // A store that could not record an outcome: stop here, the next pass tries again.
      if (recorded + foreign < due.length) return false;
      // A full page all handled: start again from the oldest (what was sent has left the queue).
      if (foreign === 0) return true;
      const last = due[due.length - 1]!;
      after = { nextAttemptAt: last.nextAttemptAt, id: last.id };
    }
    this.#resumeAfter = after;
    return false;
  }

  /** Sends one mail and records the outcome. */
  async #deliver(mail: QueuedMail): Promise<Outcome> {
    const about = { mailId: mail.id, kind: mail.kind, to: mail.to };
    let text: string;
    try {
      text = this.#sealer.unseal(mail.sealedText);
    } catch (err) {
      if (err instanceof ForeignKeyError) {
        this.#warnForeign(mail, err);
        return 'foreign';
      }
      const error = clip(`cannot unseal the mail text: ${errorMessage(err)}`);
      return this.#recordFailure(mail, error, this.#now() + PERMANENT_RETRY_MS, about);
    }

    try {
      await this.#transport.send({ from: this.#from, to: mail.to, subject: mail.subject, text, id: mail.id, kind: mail.kind });
    } catch (err) {
      const attempts = mail.attempts + 1;
      const delay = Math.max(0, this.#backoff(attempts));
      return this.#recordFailure(mail, clip(errorMessage(err)), this.#now() + delay, about);
    }

    try {
      await this.#store.markMailSent(mail.id);
    } catch (err) {
      this.#log.error({ ...about, err: errorMessage(err) }, 'mail was sent but could not be marked sent; it may be sent again');
      return 'unrecorded';
    }
    this.#log.info({ ...about, attempts: mail.attempts + 1, transport: this.#transport.kind }, 'mail sent');
    this.emit('sent', mail.id);
    return 'recorded';
  }

  /** One warning per other key: the nodes of the cluster do not share one mail key. */
  #warnForeign(mail: QueuedMail, err: ForeignKeyError): void {
    if (this.#warnedKeys.has(err.sealedWith) || this.#warnedKeys.size >= MAX_WARNED_KEYS) return;
    this.#warnedKeys.add(err.sealedWith);
    this.#log.warn(
      { mailId: mail.id, kind: mail.kind, sealedWith: err.sealedWith, mailKey: err.ours },
      `queued mail ${mail.id} was sealed with the mail key ${err.sealedWith}, but this node's key is ${err.ours}: `
        + 'the nodes of this cluster do not share one mail key. This node leaves such mail queued for a node whose key opens it '
        + '(it is neither sent nor marked failed here); give every node the same --mail-key-file',
    );
  }

  async #recordFailure(mail: QueuedMail, error: string, nextMs: number, about: object): Promise<Outcome> {
    const nextAttemptAt = new Date(nextMs).toISOString();
    let recorded = true;
    try {
      await this.#store.markMailFailed(mail.id, error, nextAttemptAt);
    } catch (err) {
      recorded = false;
      this.#log.error({ ...about, err: errorMessage(err) }, 'could not record a mail failure');
    }
    this.#log.warn({ ...about, attempts: mail.attempts + 1, nextAttemptAt, err: error }, 'mail not sent');
    this.emit('failed', mail.id, error);
    return recorded ? 'recorded' : 'unrecorded';
  }

  async #reschedule(id: number | undefined): Promise<number> {
    const now = this.#now();
    const candidates: QueuedMail[] = [];
    if (id !== undefined) {
      const mail = await this.#store.getMail(id);
      if (mail) candidates.push(mail);
    } else {
      let beforeId: number | undefined;
      for (;;) {
        const page = await this.#store.listMail('unsent', beforeId === undefined ? { limit: RETRY_PAGE } : { limit: RETRY_PAGE, beforeId });
        candidates.push(...page);
        const last = page[page.length - 1];
        if (page.length < RETRY_PAGE || !last || (beforeId !== undefined && last.id >= beforeId)) break;
        beforeId = last.id;
      }
    }
    let count = 0;
    const nowIso = new Date(now).toISOString();
    for (const mail of candidates) {
      if (mail.sentAt !== null || Date.parse(mail.nextAttemptAt) <= now) continue;
      await this.#store.markMailFailed(mail.id, mail.lastError ?? '', nowIso);
      count++;
    }
    if (count > 0) this.#log.info({ mailId: id, count }, 'mail made due for retry');
    return count;
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_ERROR_LENGTH ? `${flat.slice(0, MAX_ERROR_LENGTH - 1)}…` : flat;
}
