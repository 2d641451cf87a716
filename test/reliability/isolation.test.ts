/**
 * Members are isolated (issue 7 §3): a member can never read another member's inbox, outbox,
 * message or attachment, nor use a transfer ticket issued to someone else.
 *
 * A small world of messages in every state (sent, with and without attachments, still waiting
 * for an attachment, cancelled, deleted by one recipient, broadcast, to a group, from the
 * administrator) is built; then every member asks for every message id (and a few that do not
 * exist) with READ, DELETE, UPLOAD, DOWNLOAD and CANCEL, and lists INBOX and OUTBOX. What each
 * member may see is computed from the scenario, not from the server. Someone else's message must
 * answer exactly like a missing one. Pushes (POPUP, READ, SENT…) must only reach the member they
 * concern. Tickets: stolen ones are refused from another address, at another listener, and after use.
 */
import { once } from 'node:events';
import net from 'node:net';
import t, { type Test } from 'tap';
import type { Args } from '../../src/protocol/index.js';
import { encodeDeclaration, parseHostPort } from '../../src/transfer/wire.js';
import { startServer, type TestServer } from '../helpers/siar.js';
import { DataPeer, noise, sha256 } from '../transfer/helpers.js';
import { RawControl, readyMember, waitFor, type RawReply } from './helpers.js';

interface Model {
  id: number;
  sender: string;
  recipients: string[];
  state: 'sent' | 'sending' | 'cancelled';
  deletedBy: Set<string>;
  attachments: Array<{ id: number; uploaded: boolean }>;
}

interface Offer { transfer: string; host: string; port: number; ticket: string }

function offerOf(r: RawReply): Offer {
  if (!r.ok) throw new Error(`no offer: ${r.code} ${r.message}`);
  const addr = parseHostPort(r.args.get('addr')!)!;
  return { transfer: r.args.get('transfer')!, host: addr.host, port: addr.port, ticket: r.args.get('ticket')! };
}

async function upload(t: Test, c: RawControl, message: number, attachment: number, data: Buffer, from?: string): Promise<string> {
  const o = offerOf(await c.request('UPLOAD', { message, attachment }));
  const peer = await DataPeer.connect(t, o, from);
  peer.write(`${o.ticket}\n`);
  peer.end(data);
  const [verdict] = await peer.frames();
  return verdict?.kind ?? 'none';
}

async function send(c: RawControl, args: Record<string, string | number | string[]>, files: Buffer[] = []): Promise<{ id: number; attachments: number[] }> {
  const r = await c.request('SEND', {
    subject: 'isolation', body: 'private', ...args,
    attach: files.map((d, i) => encodeDeclaration({ name: `file${i}.bin`, size: d.length, sha256: sha256(d) })),
  });
  if (!r.ok) throw new Error(`SEND: ${r.code} ${r.message}`);
  return { id: Number(r.args.get('id')), attachments: r.args.getAll('attachment').map((v) => Number(v.split(',')[0])) };
}

/** The sentence with ids blanked: an existing message of someone else must read like a missing one. */
const shape = (r: RawReply): string => (r.ok ? 'OK' : `${r.code}: ${r.message.replace(/\d+/g, 'N')}`);

t.test('no member reads, deletes, uploads, downloads or cancels what is not its own, and ids reveal nothing', async (t) => {
  t.setTimeout(120_000);
  const s: TestServer = await startServer(t, { logLevel: 'warn' });
  const names = ['aa', 'bb', 'cc', 'dd'];
  const pw = new Map<string, string>();
  for (const n of names) pw.set(n, (await readyMember(s, n)).password);
  const adminC = await RawControl.connect(s.port);
  await adminC.login('admin', s.adminPassword());
  await adminC.request('GROUP_CREATE', { name: 'grp', members: 'bb' });
  const c = new Map<string, RawControl>();
  for (const n of names) {
    // cc lives on another address: its tickets and its thefts come from there.
    const conn = await RawControl.connect(s.port, n === 'cc' ? '127.0.0.3' : undefined);
    t.teardown(() => conn.close());
    await conn.login(n, pw.get(n)!);
    c.set(n, conn);
  }
  const aa = c.get('aa')!;
  const bb = c.get('bb')!;
  const cc = c.get('cc')!;
  const dd = c.get('dd')!;

  const world: Model[] = [];
  const add = (m: Omit<Model, 'deletedBy'>): Model => {
    const full = { ...m, deletedBy: new Set<string>() };
    world.push(full);
    return full;
  };
  const d1 = noise(3000, 1);
  const d2 = noise(2000, 2);
  const d3 = noise(1000, 3);

  const m1 = await send(aa, { to: 'bb' });
  add({ id: m1.id, sender: 'aa', recipients: ['bb'], state: 'sent', attachments: [] });
  const m2 = await send(aa, { to: 'bb,dd' });
  const m2m = add({ id: m2.id, sender: 'aa', recipients: ['bb', 'dd'], state: 'sent', attachments: [] });
  t.ok((await dd.request('DELETE', { id: m2.id })).ok);
  m2m.deletedBy.add('dd');
  const m3 = await send(aa, { to: 'bb' }, [d1]);
  t.equal(await upload(t, aa, m3.id, m3.attachments[0]!, d1), 'ok');
  add({ id: m3.id, sender: 'aa', recipients: ['bb'], state: 'sent', attachments: [{ id: m3.attachments[0]!, uploaded: true }] });
  const m4 = await send(aa, { to: 'bb' }, [d2, d3]);
  t.equal(await upload(t, aa, m4.id, m4.attachments[0]!, d2), 'ok', 'one of two attachments in: still sending');
  const m4m = add({ id: m4.id, sender: 'aa', recipients: ['bb'], state: 'sending', attachments: [{ id: m4.attachments[0]!, uploaded: true }, { id: m4.attachments[1]!, uploaded: false }] });
  const m5 = await send(aa, { to: 'bb' }, [d3]);
  t.ok((await aa.request('CANCEL', { id: m5.id })).ok);
  add({ id: m5.id, sender: 'aa', recipients: ['bb'], state: 'cancelled', attachments: [{ id: m5.attachments[0]!, uploaded: false }] });
  const m6 = await send(bb, { to: 'aa' });
  add({ id: m6.id, sender: 'bb', recipients: ['aa'], state: 'sent', attachments: [] });
  const m7 = await send(dd, { all: 1 });
  add({ id: m7.id, sender: 'dd', recipients: ['aa', 'bb', 'cc'], state: 'sent', attachments: [] });
  const m8 = await send(cc, { to: 'dd' }, [d3]);
  t.equal(await upload(t, cc, m8.id, m8.attachments[0]!, d3, '127.0.0.3'), 'ok', 'cc uploads from its own address');
  add({ id: m8.id, sender: 'cc', recipients: ['dd'], state: 'sent', attachments: [{ id: m8.attachments[0]!, uploaded: true }] });
  const m9 = await send(aa, { to: '@grp' });
  add({ id: m9.id, sender: 'aa', recipients: ['bb'], state: 'sent', attachments: [] });
  const m10 = await send(adminC, { to: 'cc' });
  add({ id: m10.id, sender: 'admin', recipients: ['cc'], state: 'sent', attachments: [] });

  const maxId = Math.max(...world.map((m) => m.id));
  const sees = (who: string, m: Model): boolean => m.sender === who || (m.state === 'sent' && m.recipients.includes(who) && !m.deletedBy.has(who));
  let probes = 0;

  // Every member asks for every id (and two that do not exist).
  for (const who of names) {
    const me = c.get(who)!;
    const missingRead = shape(await me.request('READ', { id: maxId + 1000 }));
    const missingDelete = shape(await me.request('DELETE', { id: maxId + 1000 }));
    for (let id = 1; id <= maxId + 2; id++) {
      const m = world.find((x) => x.id === id);
      const read = await me.request('READ', { id });
      probes++;
      if (m && sees(who, m)) {
        t.ok(read.ok, `${who} reads ${id}`);
      } else {
        t.equal(shape(read), missingRead, `${who} cannot read ${id}, and it answers like a missing one`);
      }
      for (const a of m?.attachments ?? []) {
        const dl = await me.request('DOWNLOAD', { message: id, attachment: a.id });
        probes++;
        if (m && sees(who, m)) t.equal(dl.ok ? 'OK' : dl.code, a.uploaded ? 'OK' : 'NOT_READY', `${who} downloads ${id}/${a.id}`);
        else t.equal(dl.ok ? 'OK' : dl.code, 'NOT_FOUND', `${who} cannot download ${id}/${a.id}`);
        if (dl.ok) {
          // Take the bytes, so the listener closes; the sender and the recipients get the right ones.
          const o = offerOf(dl);
          const peer = await DataPeer.connect(t, o, who === 'cc' ? '127.0.0.3' : undefined);
          peer.end(`${o.ticket}\n`);
          await peer.closed;
          t.equal(sha256(peer.received), sha256(m!.id === m3.id ? d1 : m!.id === m4.id ? d2 : d3), 'the right bytes');
        }
        if (m && m.sender !== who) {
          const up = await me.request('UPLOAD', { message: id, attachment: a.id });
          probes++;
          t.equal(up.ok ? 'OK' : up.code, 'NOT_FOUND', `${who} cannot upload to ${id}, not its message`);
        }
      }
      if (m && m.sender !== who) {
        const cancel = await me.request('CANCEL', { id });
        probes++;
        t.equal(cancel.ok ? 'OK' : cancel.code, 'NOT_FOUND', `${who} cannot cancel ${id}`);
      }
      if (!m || !(m.state === 'sent' && m.recipients.includes(who) && !m.deletedBy.has(who))) {
        const del = await me.request('DELETE', { id });
        probes++;
        // Its own message still being sent is the one exception: the answer points at CANCEL (it tells
        // the sender about its own message only; everyone else gets the missing one's answer).
        if (m?.sender === who && m.state === 'sending') t.match(shape(del), /^NOT_FOUND: .*CANCEL/, `${who} is told to CANCEL its own ${id}, not delete it`);
        else t.equal(shape(del), missingDelete, `${who} cannot delete ${id} (not in its inbox)`);
      }
    }
    // A mismatched pair (own message id, someone else's attachment id) is no way in either.
    const foreign = m3.attachments[0]!;
    const own = world.find((m) => m.sender === who && m.attachments.length > 0);
    if (own && own.sender !== 'aa') {
      const dl = await me.request('DOWNLOAD', { message: own.id, attachment: foreign });
      t.equal(dl.ok ? 'OK' : dl.code, 'NOT_FOUND', `${who}: own message id with another's attachment id is refused`);
    }

    const inbox = await me.request('INBOX', { limit: 500 });
    const outbox = await me.request('OUTBOX', { limit: 500 });
    t.ok(inbox.ok && outbox.ok);
    const ids = (r: RawReply): number[] => (r.ok ? r.items.map((i: Args) => Number(i.get('id'))).sort((x, y) => x - y) : []);
    t.strictSame(ids(inbox), world.filter((m) => m.state === 'sent' && m.recipients.includes(who) && !m.deletedBy.has(who)).map((m) => m.id).sort((x, y) => x - y), `${who}'s inbox holds exactly its messages`);
    t.strictSame(ids(outbox), world.filter((m) => m.sender === who).map((m) => m.id).sort((x, y) => x - y), `${who}'s outbox holds exactly what it sent`);
    // Naming another member in the request changes nothing: the lists are always the caller's own.
    const other = names.find((n) => n !== who)!;
    for (const verb of ['INBOX', 'OUTBOX'] as const) {
      const asked = await me.request(verb, { limit: 500, username: other, user: other, for: other, to: other, from: other });
      probes++;
      t.strictSame(ids(asked), ids(verb === 'INBOX' ? inbox : outbox), `${who}'s ${verb} naming ${other} still lists only ${who}'s own`);
    }
  }
  // Refused deletes removed nothing: bb still has everything addressed to it.
  const bbInbox = await bb.request('INBOX', { limit: 500 });
  t.equal(bbInbox.ok ? bbInbox.items.length : -1, world.filter((m) => m.state === 'sent' && m.recipients.includes('bb')).length, 'bb lost nothing to the others\' DELETEs');
  t.equal((await s.server.store.getMessage(m4.id))?.state, 'sending', 'refused CANCELs cancelled nothing');

  // Pushes reach only the member they concern.
  await waitFor(() => s.server.transfers.liveTransfers() === 0);
  for (const who of names) {
    const pushes = c.get(who)!.pushes;
    for (const p of pushes.filter((x) => x.event === 'POPUP')) {
      const m = world.find((x) => x.id === Number(p.args.get('id')));
      t.ok(m && m.state === 'sent' && m.recipients.includes(who), `${who} only gets popups addressed to it (${p.args.get('id')})`);
    }
    for (const p of pushes.filter((x) => ['READ', 'SENT', 'UPLOADED', 'SEND_FAILED'].includes(x.event))) {
      const id = Number(p.args.get('id') ?? p.args.get('message'));
      t.equal(world.find((x) => x.id === id)?.sender, who, `${who} only hears ${p.event} about its own messages`);
    }
  }
  t.notOk(c.get('bb')!.pushes.some((p) => p.event === 'POPUP' && Number(p.args.get('id')) === m4m.id), 'no popup for a message still waiting for an attachment');
  t.comment(`${probes} probes by 4 members over ${world.length} messages`);

  // --- tickets ---------------------------------------------------------------------------------
  const secret = noise(4000, 9);
  const m11 = await send(aa, { to: 'bb' }, [secret]);
  const aaOffer = offerOf(await aa.request('UPLOAD', { message: m11.id, attachment: m11.attachments[0]! }));
  // cc stole aa's ticket and presents it from its own address: refused before a byte is read.
  const thief = await DataPeer.connect(t, aaOffer, '127.0.0.3');
  thief.write(`${aaOffer.ticket}\n`);
  thief.end(noise(4000, 10));
  t.match((await thief.frames())[0], { kind: 'err', code: 'TRANSFER_REFUSED' }, 'a stolen ticket is refused from another address');
  // cc's own (download) ticket presented at aa's listener, even from aa's address: wrong ticket.
  const ccOffer = offerOf(await cc.request('DOWNLOAD', { message: m8.id, attachment: m8.attachments[0]! }));
  const wrong = await DataPeer.connect(t, aaOffer);
  wrong.write(`${ccOffer.ticket}\n`);
  wrong.end(noise(4000, 10));
  t.match((await wrong.frames())[0], { kind: 'err', code: 'BAD_TICKET' }, 'a ticket is only valid at its own listener');
  // aa's ticket presented at cc's listener, from cc's address: wrong ticket too.
  const swapped = await DataPeer.connect(t, ccOffer, '127.0.0.3');
  swapped.end(`${aaOffer.ticket}\n`);
  t.match((await swapped.frames())[0], { kind: 'err', code: 'BAD_TICKET' }, 'another member\'s ticket is refused at your listener');
  // The owners still use theirs, once.
  const right = await DataPeer.connect(t, aaOffer);
  right.write(`${aaOffer.ticket}\n`);
  right.end(secret);
  t.match((await right.frames())[0], { kind: 'ok' }, 'the owner\'s upload goes through after the attempts');
  const ccPeer = await DataPeer.connect(t, ccOffer, '127.0.0.3');
  ccPeer.end(`${ccOffer.ticket}\n`);
  await ccPeer.closed;
  t.equal(sha256(ccPeer.received), sha256(d3), 'and cc gets its own download');
  const again = net.connect({ host: aaOffer.host, port: aaOffer.port });
  const [err] = (await once(again, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'a used ticket has no listener any more');
  const audit = await s.server.store.listAudit({ kind: 'transfer_refused' }, { limit: 20 });
  t.ok(audit.length >= 3, `every refused attempt is audited (${audit.length})`);
  t.notOk(JSON.stringify(audit).includes(aaOffer.ticket), 'tickets never reach the audit log');

  await s.server.transfers.whenIdle();
  t.equal(s.server.transfers.liveListeners(), 0, 'no listener left');
});
