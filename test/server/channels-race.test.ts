/**
 * Subscribe and unsubscribe racing publishes (issue #4): a member receives each channel message
 * exactly once or not at all, never twice; and whether it received it matches its subscription
 * at the instant the message was stored.
 */
import t from 'tap';
import type { SiarClient } from '../../src/client/connection.js';
import { collectPushes, startServer, type TestServer, ownPassword } from '../helpers/siar.js';

/** Small seeded PRNG (mulberry32), so a failing interleaving can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

async function allDelivered(s: TestServer, ids: number[]): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const pending = [];
    for (const id of ids) {
      const m = await s.server.store.getMessage(id);
      if (!m || m.recipients.some((r) => !r.deliveredAt)) pending.push(id);
    }
    if (pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('some channel messages were never delivered');
}

/**
 * Whether a member's recipient flags, in commit order, fit its subscription history: states
 * s0, s1 … sk (each operation toggles), walked forwards only.
 */
function fitsHistory(states: boolean[], flags: boolean[]): boolean {
  let i = 0;
  for (const f of flags) {
    while (i < states.length && states[i] !== f) i++;
    if (i === states.length) return false;
  }
  return true;
}

const SEED = Number(process.env.SIAR_RACE_SEED ?? 0x5ea1);
const ROUNDS = Number(process.env.SIAR_RACE_ROUNDS ?? 40);

t.test(`subscribe/unsubscribe racing publishes: exactly once or not at all (seed ${SEED}, ${ROUNDS} rounds)`, async (t) => {
  // Publishers send as fast as the races need: past the default sending rate.
  const s = await startServer(t, { maxSendsPerMinute: 0 });
  const admin = await s.adminClient();
  const names = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
  for (const u of [...names, 'pub1', 'pub2']) await s.member(u);
  await admin.request('CHANNEL_CREATE', { name: 'race', publish: 'named', publishers: 'pub1,pub2' });
  const publishers = [await s.memberClient('pub1'), await s.memberClient('pub2')];

  // m0 has two sessions: each of them must get each popup once.
  const sessions = new Map<string, SiarClient[]>();
  for (const n of names) sessions.set(n, [await s.memberClient(n)]);
  sessions.get('m0')!.push(await s.memberClient('m0'));
  const popups = new Map<SiarClient, number[]>();
  for (const list of sessions.values()) {
    for (const c of list) {
      const seen: number[] = [];
      popups.set(c, seen);
      c.on('push', (event, args) => { if (event === 'POPUP') seen.push(Number(args.get('id'))); });
    }
  }

  const random = prng(SEED);
  const subscribed = new Map(names.map((n) => [n, false]));
  const sent: number[] = [];
  const misfits: string[] = [];
  let interleaved = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Each member toggles 0-3 times on its own connection (those run in order); the publishers
    // send 1-3 messages each; everything is written at once, in a random order.
    const history = new Map<string, boolean[]>();
    const ops: Array<() => Promise<unknown>> = [];
    for (const n of names) {
      const client = sessions.get(n)![Math.floor(random() * sessions.get(n)!.length)]!;
      const states = [subscribed.get(n)!];
      const toggles = Math.floor(random() * 4);
      for (let k = 0; k < toggles; k++) states.push(!states.at(-1));
      // In order on the member's one connection, each after the previous reply: SENDs are stored in
      // group commits at the end of an event-loop turn, so toggles written back to back would all be
      // handled in one turn, before any of the round's messages, and never interleave with them.
      if (toggles > 0) {
        ops.push(async () => {
          for (const on of states.slice(1)) await client.request(on ? 'SUBSCRIBE' : 'UNSUBSCRIBE', { name: 'race' });
        });
      }
      history.set(n, states);
      subscribed.set(n, states.at(-1)!);
    }
    const roundIds: number[] = [];
    for (const p of publishers) {
      const count = 1 + Math.floor(random() * 3);
      for (let k = 0; k < count; k++) {
        ops.push(async () => {
          const r = await p.request('SEND', { channel: 'race', subject: `round ${round}` });
          roundIds.push(Number(r.args.get('id')));
        });
      }
    }
    // Per-connection order is what each member did; across connections the order is random.
    await Promise.all(shuffle(ops, random).map((op) => op()));
    roundIds.sort((a, b) => a - b);
    sent.push(...roundIds);

    for (const n of names) {
      const userId = (await s.server.store.getUserByUsername(n))!.id;
      const flags: boolean[] = [];
      for (const id of roundIds) {
        const m = (await s.server.store.getMessage(id))!;
        flags.push(m.recipients.some((r) => r.userId === userId));
      }
      if (flags.some((f) => f !== flags[0])) interleaved++;
      if (!fitsHistory(history.get(n)!, flags)) misfits.push(`round ${round} ${n}: states ${history.get(n)} flags ${flags}`);
    }
  }
  t.same(misfits, [], 'each message reached exactly the members subscribed at the instant it was stored');
  t.ok(interleaved > 0, `publishes landed between a member's subscription changes (${interleaved} times)`);

  await allDelivered(s, sent);
  await Promise.all([...popups.keys()].map((c) => c.request('PING')));

  let twice = 0;
  let wrong = 0;
  let received = 0;
  for (const [name, list] of sessions) {
    const userId = (await s.server.store.getUserByUsername(name))!.id;
    const inbox = new Set((await list[0]!.request('INBOX', { limit: 500 })).items.map((a) => Number(a.get('id'))));
    for (const id of sent) {
      const isRecipient = (await s.server.store.getMessage(id))!.recipients.some((r) => r.userId === userId);
      for (const c of list) {
        const n = popups.get(c)!.filter((x) => x === id).length;
        if (n > 1) twice++;
        if (n !== (isRecipient ? 1 : 0)) wrong++;
        received += n;
      }
      if (inbox.has(id) !== isRecipient) wrong++;
    }
  }
  t.equal(twice, 0, 'no popup arrived twice on any connection');
  t.equal(wrong, 0, 'every recorded recipient got its popup and inbox entry; no one else did');
  t.ok(received > 0 && received < sent.length * (names.length + 1), `some messages reached some members (${received} popups for ${sent.length} messages)`);
});

t.test('a member logging in during a burst of channel messages gets each once, live or replayed', async (t) => {
  const s = await startServer(t, { maxSendsPerMinute: 0 });
  const admin = await s.adminClient();
  await s.member('pub');
  await s.member('late');
  await admin.request('CHANNEL_CREATE', { name: 'burst', publish: 'named', publishers: 'pub' });
  const late = await s.memberClient('late');
  await late.request('SUBSCRIBE', { name: 'burst' });
  await late.close();
  const pub = await s.memberClient('pub');

  for (let attempt = 0; attempt < 5; attempt++) {
    const c = await s.client();
    const seen = collectPushes(c, 'POPUP');
    const sends = Array.from({ length: 30 }, (_, i) => pub.request('SEND', { channel: 'burst', subject: `#${attempt}.${i}` }));
    // Log in while the sends are in flight: some are replayed at login, some arrive live.
    await c.login('late', ownPassword('late'));
    const ids = (await Promise.all(sends)).map((r) => Number(r.args.get('id')));
    await allDelivered(s, ids);
    await c.request('PING');
    const counts = ids.map((id) => seen.filter((a) => Number(a.get('id')) === id).length);
    t.same(counts, ids.map(() => 1), `attempt ${attempt}: every message exactly once`);
    await c.close();
  }
});
