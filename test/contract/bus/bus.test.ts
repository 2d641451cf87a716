/** Bus contract: every node hears every event once, in order per publisher; listeners are independent. */
import t from 'tap';
import type { Test } from 'tap';
import type { Bus, BusEvent } from '../../../src/core/ports/bus.js';
import { forEachAdapter, listen, settle, until, type BusAdapter } from './adapters.js';

const notice = (n: number): BusEvent => ({ type: 'admin_notice', event: 'NOTE', args: { n } });
const numberOf = (e: BusEvent): number => (e.type === 'admin_notice' ? Number(e.args.n) : -1);

forEachAdapter(t, (t, adapter) => {
  t.test('every node hears an event once, the publishing node included, with who published it', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    const heardA = listen(a);
    const heardB = listen(b);
    t.equal(a.nodeId, 'node-a');
    await a.publish(notice(1));
    await until(() => heardA.length === 1 && heardB.length === 1);
    t.strictSame(heardA, [{ event: notice(1), origin: 'node-a' }]);
    t.strictSame(heardB, [{ event: notice(1), origin: 'node-a' }]);
    await settle();
    t.equal(heardA.length + heardB.length, 2, 'once each');
  });

  t.test('events of one publisher arrive in the order published', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    const heard = listen(b);
    for (let i = 0; i < 200; i++) void a.publish(notice(i));
    await until(() => heard.length === 200);
    t.strictSame(heard.map((h) => numberOf(h.event)), Array.from({ length: 200 }, (_, i) => i));
  });

  t.test('every kind of event arrives as published', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const heard = listen(a);
    const events: BusEvent[] = [
      { type: 'message_stored', messageId: 42, institution: 'École | "Nord"\nsite 2' },
      { type: 'member_notice', userId: 7, event: 'READ', args: { id: 42, by: 'bob', at: '2026-12-07T04:00:00.000Z' } },
      { type: 'member_changed', userId: 7, change: 'suspended' },
      { type: 'admin_notice', event: 'LOGIN_ALERT', args: { username: 'x', addresses: ['192.0.2.1', '192.0.2.2'], failures: 30 } },
      { type: 'session_closed', userId: 7, sessions: { all: true }, code: 'SESSION_CLOSED', message: 'Suspended.' },
      { type: 'session_closed', userId: 7, sessions: { only: 3 }, code: 'SESSION_CLOSED', message: 'Logged out.' },
      { type: 'session_closed', userId: 7, sessions: { except: 4 }, code: 'SESSION_CLOSED', message: 'Password changed.' },
      { type: 'registration_decided', requestId: 9, event: 'DECISION', args: { id: 9, status: 'approved', username: 'new' } },
    ];
    for (const e of events) await a.publish(e);
    await until(() => heard.length === events.length);
    t.strictSame(heard.map((h) => h.event), events);
  });

  t.test('a listener hears only what is published while it listens', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    await a.publish(notice(1));
    await settle();
    const heard: number[] = [];
    const stop = b.subscribe((e) => heard.push(numberOf(e)));
    await a.publish(notice(2));
    await until(() => heard.length === 1);
    stop();
    await a.publish(notice(3));
    await settle();
    t.strictSame(heard, [2]);
  });

  t.test('a listener that throws does not stop the others, and its error is reported', async (t) => {
    const medium = await adapter.open(t);
    const errors: unknown[] = [];
    const a = await medium.node('node-a', (err) => errors.push(err));
    a.subscribe(() => { throw new Error('listener broke'); });
    const heard = listen(a);
    await a.publish(notice(1));
    await a.publish(notice(2));
    await until(() => heard.length === 2);
    t.equal(errors.length, 2);
    t.match(String(errors[0]), /listener broke/);
  });

  t.test('a closed node hears nothing more and cannot publish; the others go on', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    const heardA = listen(a);
    const heardB = listen(b);
    await a.close();
    await t.rejects(a.publish(notice(1)));
    await b.publish(notice(2));
    await until(() => heardB.length === 1);
    await settle();
    t.equal(heardA.length, 0);
  });

  t.test('after losing its connection a node hears of it (to catch up from the store) and events flow again', async (t) => {
    const pair = await reconnected(t, adapter, () => undefined);
    if (!pair) return;
    const { a, heard } = pair;
    // Published after the reconnection: heard (what was lost meanwhile is the store's to give).
    for (let i = 0; heard.length === 0 && i < 100; i++) {
      await a.publish(notice(i));
      await settle(50);
    }
    t.ok(heard.length > 0, 'events arrive again');
  });

  t.test('after a reconnection, events wait until the catch-up has settled, then arrive in order', async (t) => {
    let finishCatchUp: () => void = () => undefined;
    const pair = await reconnected(t, adapter, () => new Promise<void>((resolve) => { finishCatchUp = resolve; }));
    if (!pair) return;
    const { a, heard } = pair;
    // b listens again (the hold is what keeps these from it) but is still catching up from the store.
    for (let i = 0; i < 5; i++) await a.publish(notice(i));
    await settle(300);
    t.equal(heard.length, 0, 'nothing is handed over while the catch-up runs');
    finishCatchUp();
    await until(() => heard.length === 5, 10_000);
    t.strictSame(heard.map((h) => numberOf(h.event)), [0, 1, 2, 3, 4], 'then every event, in order');
  });
});

/**
 * Two nodes, a and b, after b lost its connection and its reconnect listener (`catchUp`) ran; null
 * (and a pass) where the bus cannot lose a connection.
 */
async function reconnected(
  t: Test, adapter: BusAdapter, catchUp: () => void | Promise<unknown>,
): Promise<{ a: Bus; heard: ReturnType<typeof listen> } | null> {
  if (!adapter.interrupt) {
    t.pass(`the ${adapter.name} bus cannot lose its connection`);
    return null;
  }
  const medium = await adapter.open(t);
  const a = await medium.node('node-a');
  const b = await medium.node('node-b');
  let reconnects = 0;
  b.onReconnect(() => { reconnects++; return catchUp(); });
  const heard = listen(b);
  await adapter.interrupt(b);
  await until(() => reconnects === 1, 10_000);
  return { a, heard };
}
