import t from 'tap';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import {
  createMailTransport,
  credentialsMail,
  defaultBackoff,
  MailSealer,
  MailWorker,
  type MailEnvelope,
  type MailStore,
  type MailTransport,
  type MailWorkerOptions,
} from '../../../src/server/mail/index.js';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import { Capture, deadPort, parseEml, sealV1, startReceiver, textLines } from './helpers.js';

const FROM = 'siar <siar@example.org>';
const PASSWORD = 'Zq8-secret-Pw!';
const SECOND = 1000;

interface Setup {
  store: SqliteStore;
  sealer: MailSealer;
  dataDir: string;
  capture: Capture;
  logger: Logger;
  enqueue(to: string, password?: string): Promise<number>;
  worker(options: Partial<MailWorkerOptions> & { transport: MailTransport }): MailWorker;
}

/** The parts of a tap test that setup() uses. */
interface TestLike {
  testdir(): string;
  teardown(fn: () => unknown): void;
}

async function setup(t: TestLike): Promise<Setup> {
  const dataDir = t.testdir();
  const store = SqliteStore.open(join(dataDir, 'siar.db'));
  t.teardown(() => store.close());
  const sealer = await MailSealer.open(dataDir);
  const capture = new Capture();
  // No redaction here: the worker itself must keep secrets out of the log.
  const logger = pino({ level: 'trace' }, capture);
  const workers: MailWorker[] = [];
  t.teardown(() => Promise.all(workers.map((w) => w.stop())));
  return {
    store,
    sealer,
    dataDir,
    capture,
    logger,
    enqueue(to, password = PASSWORD) {
      const mail = credentialsMail({ institution: 'Centro 5', contact: 'Rosa', username: 'centro5', password });
      return store.enqueueMail({ kind: 'credentials', to, subject: mail.subject, sealedText: sealer.seal(mail.text) });
    },
    worker(options) {
      const worker = new MailWorker({ store, sealer, from: FROM, logger, ...options });
      workers.push(worker);
      return worker;
    },
  };
}


/** A transport that holds every send until `release()`; delegates to another transport. */
function gated(inner: MailTransport) {
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  let entered!: () => void;
  const sending = new Promise<void>((resolve) => (entered = resolve));
  const transport: MailTransport = {
    kind: inner.kind,
    destination: inner.destination,
    async send(mail: MailEnvelope) {
      entered();
      await gate;
      await inner.send(mail);
    },
    close: () => inner.close(),
  };
  return {
    transport,
    sending,
    release() {
      open();
      gate = Promise.resolve();
    },
  };
}

/** A transport that fails while `down` is true and otherwise delegates. */
function flaky(inner: MailTransport) {
  const state = { down: true, sends: 0 };
  const transport: MailTransport = {
    kind: inner.kind,
    destination: inner.destination,
    async send(mail) {
      state.sends++;
      if (state.down) throw new Error('connect ECONNREFUSED (simulated outage)');
      await inner.send(mail);
    },
    close: () => inner.close(),
  };
  return { transport, state };
}

t.test('the default back-off doubles from 15 s and stops at one hour', async (t) => {
  t.equal(defaultBackoff(1), 15 * SECOND);
  t.equal(defaultBackoff(2), 30 * SECOND);
  t.equal(defaultBackoff(3), 60 * SECOND);
  t.equal(defaultBackoff(8), 15 * SECOND * 128);
  t.equal(defaultBackoff(9), 3600 * SECOND);
  t.equal(defaultBackoff(1000), 3600 * SECOND);
});

t.test('the worker sends due mail through SMTP and marks it sent, clearing the sealed text', async (t) => {
  const s = await setup(t);
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const transport = createMailTransport({ smtpUrl: receiver.url, dataDir: s.dataDir });
  t.teardown(() => transport.close());
  const id = await s.enqueue('rosa@centro5.example');
  const worker = s.worker({ transport });
  const sent: number[] = [];
  worker.on('sent', (mailId) => sent.push(mailId));

  await worker.kick();

  t.strictSame(sent, [id], "a 'sent' event for the mail");
  t.equal(receiver.received.length, 1);
  const got = receiver.received[0]!;
  t.strictSame(got.to, ['rosa@centro5.example']);
  const lines = textLines(parseEml(got.raw).text);
  t.ok(lines.includes('Username: centro5'));
  t.ok(lines.includes(`Password: ${PASSWORD}`));

  const stored = await s.store.getMail(id);
  t.ok(stored?.sentAt, 'marked sent');
  t.equal(stored?.sealedText, '', 'the sealed text is cleared');
  t.strictSame(await s.store.dueMail(new Date(Date.now() + 10 * 3600 * SECOND).toISOString(), 10), [], 'nothing left to send');

  await worker.kick();
  t.equal(receiver.received.length, 1, 'a second pass sends nothing again');
});

t.test('with the SMTP server down the mail stays queued with the error, and a retry once it is back delivers it exactly once', async (t) => {
  // The transport is built once for a fixed port: reserve a free port, release it, point the
  // transport at it (nothing listens: connection refused), later start the receiver on that port.
  const s = await setup(t);
  const port = await deadPort();
  const transport = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, dataDir: s.dataDir });
  t.teardown(() => transport.close());
  const id = await s.enqueue('rosa@centro5.example');
  const sealedBefore = (await s.store.getMail(id))!.sealedText;
  const worker = s.worker({ transport });
  const failures: [number, string][] = [];
  worker.on('failed', (mailId, error) => failures.push([mailId, error]));

  const before = Date.now();
  await worker.kick();
  t.equal(failures.length, 1, "one 'failed' event");
  t.equal(failures[0]?.[0], id);
  t.match(failures[0]?.[1], /ECONNREFUSED/);
  let stored = (await s.store.getMail(id))!;
  t.equal(stored.sentAt, null, 'still unsent');
  t.equal(stored.attempts, 1, 'one attempt counted');
  t.match(stored.lastError, /ECONNREFUSED/, 'last_error holds the reason');
  t.equal(stored.sealedText, sealedBefore, 'the sealed text is kept for the next attempt');
  const next = Date.parse(stored.nextAttemptAt);
  t.ok(next >= before + 15 * SECOND && next <= Date.now() + 15 * SECOND, 'next attempt in 15 s');

  const receiver = await startReceiver(port);
  t.teardown(() => receiver.close());
  await worker.kick();
  t.equal(receiver.received.length, 0, 'not retried before its time');

  const delivered = once(worker, 'sent');
  t.equal(await worker.retryNow(id), 1, 'one mail made due');
  t.strictSame(await delivered, [id]);
  await worker.kick();
  await worker.kick();
  t.equal(receiver.received.length, 1, 'delivered exactly once');
  t.match(parseEml(receiver.received[0]!.raw).text, `Password: ${PASSWORD}`);
  stored = (await s.store.getMail(id))!;
  t.ok(stored.sentAt, 'marked sent');
  t.equal(stored.sealedText, '');
  t.equal(await worker.retryNow(id), 0, 'a sent mail is not retried');
  t.equal(await worker.retryNow(9999), 0, 'an unknown id is no error');
});

t.test('each failed attempt pushes the next attempt further out by the back-off', async (t) => {
  const s = await setup(t);
  const port = await deadPort();
  const transport = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, dataDir: s.dataDir });
  t.teardown(() => transport.close());
  const id = await s.enqueue('rosa@centro5.example');
  let clock = Date.now() + SECOND;
  const seen: number[] = [];
  const worker = s.worker({
    transport,
    now: () => clock,
    backoff: (attempts) => {
      seen.push(attempts);
      return defaultBackoff(attempts);
    },
  });

  await worker.kick();
  t.equal((await s.store.getMail(id))!.nextAttemptAt, new Date(clock + 15 * SECOND).toISOString());
  clock += 15 * SECOND;
  await worker.kick();
  t.equal((await s.store.getMail(id))!.nextAttemptAt, new Date(clock + 30 * SECOND).toISOString());
  clock += 29 * SECOND;
  await worker.kick();
  t.strictSame(seen, [1, 2], 'not tried before it is due; back-off asked with the attempt count');
  t.equal((await s.store.getMail(id))!.attempts, 2);
});

t.test('the log names the mail and recipient but never holds the password or the text', async (t) => {
  const s = await setup(t);
  const port = await deadPort();
  const down = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, dataDir: s.dataDir });
  t.teardown(() => down.close());
  const id = await s.enqueue('rosa@centro5.example');
  await s.worker({ transport: down }).kick();

  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const up = createMailTransport({ smtpUrl: receiver.url, dataDir: s.dataDir });
  t.teardown(() => up.close());
  const worker = s.worker({ transport: up });
  worker.start();
  const delivered = once(worker, 'sent');
  await worker.retryNow();
  await delivered;
  await worker.stop();
  t.equal(receiver.received.length, 1);

  const output = s.capture.output;
  t.notOk(output.includes(PASSWORD), 'no password in the log');
  t.notOk(output.includes('Username:'), 'no mail text in the log');
  t.notOk(output.includes('v1.'), 'no sealed text in the log');
  const records = s.capture.records;
  const failed = records.find((r) => r.msg === 'mail not sent');
  const sent = records.find((r) => r.msg === 'mail sent');
  t.match(failed, { component: 'mail', mailId: id, kind: 'credentials', to: 'rosa@centro5.example', err: /ECONNREFUSED/ });
  t.match(sent, { component: 'mail', mailId: id, kind: 'credentials', to: 'rosa@centro5.example' });
});

t.test('a mail that cannot be unsealed is failed for an hour and the rest still goes out', async (t) => {
  const s = await setup(t);
  const transport = createMailTransport({ dataDir: s.dataDir });
  const bad = await s.store.enqueueMail({ kind: 'credentials', to: 'x@example.org', subject: 's', sealedText: 'v1.not.really.sealed' });
  // A v1 text names no key: one that does not open is taken for damaged, as before fingerprints.
  const legacy = await s.store.enqueueMail({ kind: 'credentials', to: 'y@example.org', subject: 's', sealedText: sealV1(randomBytes(32), 'hello') });
  const good = await s.enqueue('rosa@centro5.example');
  const worker = s.worker({ transport });
  const failed: number[] = [];
  worker.on('failed', (id) => failed.push(id));

  const before = Date.now();
  await worker.kick();
  t.strictSame(failed.sort(), [bad, legacy].sort(), 'both bad mails reported failed');
  t.ok((await s.store.getMail(good))!.sentAt, 'the good mail was sent');
  for (const id of [bad, legacy]) {
    const stored = (await s.store.getMail(id))!;
    t.equal(stored.sentAt, null);
    t.equal(stored.attempts, 1);
    t.match(stored.lastError, /^cannot unseal the mail text: sealed mail text/);
    t.ok(Date.parse(stored.nextAttemptAt) >= before + 3600 * SECOND, 'next attempt an hour away');
  }
  const files = await readdir(join(s.dataDir, 'mail'));
  t.equal(files.length, 1, 'only the good mail was written');
});

t.test('mail sealed with another mail key is left queued, with one warning; the mail behind it goes out; a worker with that key sends it', async (t) => {
  const s = await setup(t);
  const otherKey = new MailSealer(randomBytes(32));
  // More than one pass reads (20 pages of 50): the pass after goes on from where the first stopped.
  const foreign: number[] = [];
  for (let i = 0; i < 1010; i++) {
    foreign.push(await s.store.enqueueMail({ kind: 'credentials', to: `f${i}@example.org`, subject: 's', sealedText: otherKey.seal(`hello ${i}`) }));
  }
  const legacyOwn = await s.store.enqueueMail({ kind: 'credentials', to: 'old@example.org', subject: 's', sealedText: sealV1(await readFile(MailSealer.keyPath(s.dataDir)), 'from before') });
  const good = await s.enqueue('rosa@centro5.example');
  const worker = s.worker({ transport: createMailTransport({ dataDir: s.dataDir }) });
  const failed: number[] = [];
  worker.on('failed', (id) => failed.push(id));

  await worker.kick();
  await worker.kick();
  t.ok((await s.store.getMail(good))!.sentAt, 'the mail behind 1,010 of another key went out');
  t.ok((await s.store.getMail(legacyOwn))!.sentAt, 'a v1 mail of this key went out too');
  t.strictSame(failed, [], 'nothing reported failed');
  const untouched = await Promise.all(foreign.map((id) => s.store.getMail(id)));
  t.ok(untouched.every((m) => m!.sentAt === null && m!.attempts === 0 && m!.lastError === null), 'the other key\'s mail: not sent, no attempt counted, no error');
  await worker.kick();

  const warnings = s.capture.records.filter((r) => r.level === 40);
  t.equal(warnings.length, 1, 'one warning, however many mails and passes');
  t.match(warnings[0], {
    sealedWith: otherKey.fingerprint, mailKey: s.sealer.fingerprint, mailId: foreign[0],
    msg: new RegExp(`^queued mail ${foreign[0]} was sealed with the mail key ${otherKey.fingerprint}, but this node's key is ${s.sealer.fingerprint}: the nodes of this cluster do not share one mail key\\. This node leaves such mail queued for a node whose key opens it .*give every node the same --mail-key-file$`),
  });
  t.notOk(s.capture.output.includes('hello'), 'no text in the log');

  // A node with the other key sends all of it (its own full pages run back to back).
  const otherDir = t.testdir();
  const theirs = new MailWorker({ store: s.store, sealer: otherKey, transport: createMailTransport({ dataDir: otherDir }), from: FROM, logger: s.logger });
  t.teardown(() => theirs.stop());
  await theirs.kick();
  t.equal((await readdir(join(otherDir, 'mail'))).length, 1010, 'every mail of the other key went out from the node that has it');
  t.strictSame(await s.store.dueMail(new Date(Date.now() + 10 * 3600 * SECOND).toISOString(), 10), [], 'nothing left in the queue');
});

t.test('a kick during a pass runs exactly one more pass after it, never two at once', async (t) => {
  const s = await setup(t);
  let passes = 0;
  let sendsInFlight = 0;
  let overlaps = 0;
  // Every pass starts with dueMail; a pass that started while another was sending would overlap.
  const store: MailStore = {
    markMailSent: (id) => s.store.markMailSent(id),
    markMailFailed: (id, error, next) => s.store.markMailFailed(id, error, next),
    listMail: (filter, page) => s.store.listMail(filter, page),
    getMail: (id) => s.store.getMail(id),
    dueMail: (now, limit, after) => {
      passes++;
      if (sendsInFlight > 0) overlaps++;
      return s.store.dueMail(now, limit, after);
    },
  };
  const gate = gated(createMailTransport({ dataDir: s.dataDir }));
  const counted: MailTransport = {
    kind: 'file',
    destination: 'counted',
    async send(mail) {
      sendsInFlight++;
      try {
        await gate.transport.send(mail);
      } finally {
        sendsInFlight--;
      }
    },
    close: () => gate.transport.close(),
  };
  await s.enqueue('rosa@centro5.example');
  const worker = s.worker({ transport: counted, store });

  const first = worker.kick();
  await gate.sending;
  const second = worker.kick();
  const third = worker.kick();
  await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(passes, 1, 'the kicks during the pass do not start a pass');
  gate.release();
  await Promise.all([first, second, third]);
  t.equal(passes, 2, 'one more pass after the first');
  t.equal(overlaps, 0, 'no pass started while another was sending');
  await worker.kick();
  t.equal(passes, 3, 'a later kick runs a new pass');
});

t.test('stop waits for the pass in flight and then no more passes run', async (t) => {
  const s = await setup(t);
  const gate = gated(createMailTransport({ dataDir: s.dataDir }));
  const id = await s.enqueue('rosa@centro5.example');
  const worker = s.worker({ transport: gate.transport });
  void worker.kick();
  await gate.sending;
  let stopped = false;
  const stopping = worker.stop().then(() => (stopped = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.notOk(stopped, 'stop has not resolved while a mail is being sent');
  gate.release();
  await stopping;
  t.ok((await s.store.getMail(id))!.sentAt, 'the mail in flight was finished and recorded');

  const later = await s.enqueue('other@example.org');
  await worker.kick();
  t.equal((await s.store.getMail(later))!.sentAt, null, 'kick after stop does nothing');
  await t.rejects(worker.retryNow(), { message: /stopped/ });
  t.throws(() => worker.start(), { message: /stopped/ });
});

t.test('retryNow without an id makes all waiting mail due and it goes out', async (t) => {
  const s = await setup(t);
  const link = flaky(createMailTransport({ dataDir: s.dataDir }));
  const ids = [await s.enqueue('a@example.org'), await s.enqueue('b@example.org')];
  const worker = s.worker({ transport: link.transport });
  await worker.kick();
  t.equal(link.state.sends, 2);
  for (const id of ids) t.equal((await s.store.getMail(id))!.attempts, 1);

  link.state.down = false;
  const sent: number[] = [];
  worker.on('sent', (id) => sent.push(id));
  t.equal(await worker.retryNow(), 2, 'both made due');
  await worker.kick();
  t.strictSame(sent.sort(), ids.sort());
  t.equal((await readdir(join(s.dataDir, 'mail'))).length, 2);
  t.equal(await worker.retryNow(), 0, 'nothing left to retry');
});

t.test('once started the worker polls and sends mail queued later without a kick', async (t) => {
  const s = await setup(t);
  const worker = s.worker({ transport: createMailTransport({ dataDir: s.dataDir }), pollMs: 25 });
  // The poll timer is unref()ed so it never holds a process open; this test holds it open itself.
  const keepAlive = setTimeout(() => undefined, 10_000);
  t.teardown(() => clearTimeout(keepAlive));
  worker.start();
  worker.start();
  await new Promise((resolve) => setTimeout(resolve, 30));
  const id = await s.enqueue('rosa@centro5.example');
  const [sentId] = await once(worker, 'sent');
  t.equal(sentId, id);
  await worker.stop();
});
