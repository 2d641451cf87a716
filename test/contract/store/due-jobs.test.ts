/**
 * Store contract: due jobs (issue 21, src/core/ports/store/due-jobs.ts): scheduled messages held out
 * of every inbox until released, automatic reminders counted against their cap, and the atomic
 * claim with a lease that makes each job happen once however many nodes (stores on one database)
 * claim at the same time. Also the core runner (src/core/due-jobs.ts) driven by a clock the test moves.
 */
import t, { type Test } from 'tap';
import type { DueJob } from '../../../src/core/ports/store.js';
import { DueJobRunner } from '../../../src/core/due-jobs.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { senderAndRecipients } from './fixtures.js';

const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

const setup = (t: Test, adapter: StoreAdapter) => senderAndRecipients(t, adapter, 'scheduled');

const claim = (now: number, owner: string, limit = 10, leaseMs = MINUTE) => ({ now: iso(now), owner, leaseUntil: iso(now + leaseMs), limit });

forEachAdapter(t, (t, adapter) => {
  t.test('a scheduled message is nobody\'s until released, then it is in the inboxes, once', async (t) => {
    const { store, alice, bob, carol, message } = await setup(t, adapter);
    const at = Date.now() + 10 * MINUTE;
    const { message: m, alert } = await store.storeAlertedMessage(message([bob, carol]), { priority: 'normal', ack: true, deliverAt: iso(at) });
    t.match(alert, { deliverAt: iso(at), scheduled: true, nextRemindAt: null });
    t.strictSame(m.recipients.map((r) => r.username), ['bob', 'carol'], 'the sender sees who it is for');
    t.equal((await store.inbox(bob.id, { limit: 10 })).length, 0, 'not in the inbox');
    t.equal(await store.unreadCount(bob.id), 0);
    t.equal((await store.listUndelivered(bob.id, 10)).length, 0, 'no popup at login');
    t.equal(await store.messageRole(m.id, bob.id), null, 'no recipient yet');
    t.equal(await store.markRead(m.id, bob.id), false);
    t.equal(await store.acknowledge(m.id, bob.id), null);
    t.equal((await store.outbox(alice.id, { limit: 10 }))[0]!.id, m.id, 'in the outbox');

    t.strictSame(await store.claimDueJobs(claim(at - 1000, 'node-a')), [], 'not before its time');
    t.strictSame(await store.claimDueJobs(claim(at, 'node-a')), [{ kind: 'deliver', messageId: m.id }]);
    t.strictSame(await store.claimDueJobs(claim(at + 1000, 'node-b')), [], 'claimed: nobody else gets it while the lease holds');
    t.strictSame(await store.releaseScheduled([m.id], 'node-b', iso(at)), [], 'only the owner releases it');
    const [released] = await store.releaseScheduled([m.id], 'node-a', iso(at));
    t.equal(released!.replaced, null, 'it replaces nothing');
    t.equal(released!.message.sentAt, iso(at), 'sent when released');
    t.strictSame(released!.message.recipients.map((r) => [r.username, r.deliveredAt]), [['bob', null], ['carol', null]]);
    t.strictSame(await store.releaseScheduled([m.id], 'node-a', iso(at)), [], 'released once');
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id), [m.id]);
    t.strictSame((await store.listUndelivered(carol.id, 10)).map((x) => x.id), [m.id], 'a popup at login');
    t.match((await store.alertsOf([m.id])).get(m.id), { scheduled: false, deliverAt: iso(at) });
    t.strictSame(await store.claimDueJobs(claim(at + 10 * MINUTE, 'node-b')), [], 'nothing left to do');
  });

  t.test('a claim whose lease ran out is taken by another; recall before release cancels it', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    const at = Date.now() + MINUTE;
    const { message: m } = await store.storeAlertedMessage(message([bob]), { priority: 'normal', ack: false, deliverAt: iso(at) });
    t.equal((await store.claimDueJobs(claim(at, 'dead-node', 10, 1000))).length, 1);
    // dead-node never finishes: after its lease another node takes the job.
    t.strictSame(await store.claimDueJobs(claim(at + 2000, 'node-b')), [{ kind: 'deliver', messageId: m.id }]);
    t.strictSame(await store.releaseScheduled([m.id], 'dead-node', iso(at)), [], 'the first owner lost it');

    const { message: other } = await store.storeAlertedMessage(message([bob], 'recalled'), { priority: 'normal', ack: false, deliverAt: iso(at) });
    const recall = await store.recallMessage({ messageId: other.id, byUserId: other.senderId, reason: 'cancelled' });
    t.strictSame(recall!.undelivered, [bob.id], 'its recipient never gets it');
    t.match(recall!.alert, { scheduled: false, recalledAt: String });
    t.strictSame((await store.claimDueJobs(claim(at + 5 * MINUTE, 'node-c'))).filter((j) => j.messageId === other.id), [], 'never claimed');
    t.strictSame(await store.releaseScheduled([other.id], 'node-c', iso(at)), []);
    t.equal((await store.inbox(bob.id, { limit: 10 })).filter((e) => e.id === other.id).length, 0);
  });

  t.test('a scheduled correction recalls the message it replaces when it goes out, in that transaction, not at SEND', async (t) => {
    const { store, alice, bob, carol, message } = await setup(t, adapter);
    const { message: old } = await store.storeAlertedMessage(message([bob, carol], 'old'), { priority: 'high', ack: true, remindEverySeconds: 3600 });
    await store.markDelivered(old.id, bob.id); // bob had its popup; carol was offline
    const at = Date.now() + 10 * MINUTE;
    const { message: fix, alert, replaced } = await store.storeAlertedMessage(message([bob, carol], 'fix'), {
      priority: 'high', ack: true, deliverAt: iso(at), replaces: { messageId: old.id, byUserId: alice.id, reason: 'Replaced by a correction.' },
    });
    t.equal(replaced, null, 'nothing recalled at SEND');
    t.match(alert, { replacesId: old.id, replacesOnRelease: true, scheduled: true });
    t.match((await store.alertsOf([old.id])).get(old.id), { recalledAt: null, replacedBy: null, nextRemindAt: String }, 'the old one is untouched: its reminders go on');
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id), [old.id], 'its recipients keep the old one until then');
    t.strictSame((await store.listUndelivered(carol.id, 10)).map((x) => x.id), [old.id], 'an offline recipient still gets the old one at login');

    t.strictSame(await store.claimDueJobs(claim(at, 'node-a')), [{ kind: 'deliver', messageId: fix.id }]);
    t.strictSame(await store.releaseScheduled([fix.id], 'node-b', iso(at)), [], 'not node-b\'s to release');
    t.equal((await store.alertsOf([old.id])).get(old.id)!.recalledAt, null, 'a refused release recalls nothing');
    const [released] = await store.releaseScheduled([fix.id], 'node-a', iso(at));
    t.equal(released!.message.id, fix.id);
    t.match(released!.replaced, { changed: true, undelivered: [carol.id], delivered: [bob.id] }, 'recalled as it went out');
    t.match(released!.replaced!.alert, { messageId: old.id, recalledAt: iso(at), recallReason: 'Replaced by a correction.', recalledBy: alice.id, replacedBy: fix.id, nextRemindAt: null });
    t.match((await store.alertsOf([fix.id])).get(fix.id), { replacesId: old.id, replacesOnRelease: false, scheduled: false });
    t.strictSame((await store.listUndelivered(carol.id, 10)).map((x) => x.id), [fix.id], 'carol gets only the correction');
    t.strictSame(await store.releaseScheduled([fix.id], 'node-a', iso(at)), [], 'released once');
  });

  t.test('a scheduled correction recalled before its time never recalls the message it replaces', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    const { message: old } = await store.storeAlertedMessage(message([bob], 'old'), { priority: 'normal', ack: true });
    const at = Date.now() + 10 * MINUTE;
    const { message: fix } = await store.storeAlertedMessage(message([bob], 'fix'), {
      priority: 'normal', ack: false, deliverAt: iso(at), replaces: { messageId: old.id, byUserId: alice.id, reason: 'Replaced by a correction.' },
    });
    const recalled = await store.recallMessage({ messageId: fix.id, byUserId: alice.id, reason: 'not needed' });
    t.match(recalled!.alert, { replacesOnRelease: false, scheduled: false, recalledAt: String });
    t.strictSame(await store.claimDueJobs(claim(at + MINUTE, 'node-a')), [], 'nothing goes out');
    t.strictSame(await store.releaseScheduled([fix.id], 'node-a', iso(at)), []);
    t.match((await store.alertsOf([old.id])).get(old.id), { recalledAt: null, replacedBy: null }, 'the old one stays');
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id), [old.id]);
    const missing = await store.storeAlertedMessage(message([bob], 'x'), {
      priority: 'normal', ack: false, deliverAt: iso(at), replaces: { messageId: old.id + 999, byUserId: alice.id, reason: '' },
    });
    t.match(missing.alert, { replacesId: null, replacesOnRelease: false }, 'a message that does not exist is not waited for');
  });

  t.test('a tick\'s scheduled messages go out in one call: the owner\'s, once each, by id; the others stay as they were', async (t) => {
    const { store, alice, bob, carol, message } = await setup(t, adapter);
    const at = Date.now() + MINUTE;
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await store.storeAlertedMessage(message([bob, carol], `b${i}`), { priority: 'normal', ack: false, deliverAt: iso(at) })).message.id);
    }
    const { message: later } = await store.storeAlertedMessage(message([bob], 'later'), { priority: 'normal', ack: false, deliverAt: iso(at + 10 * MINUTE) });
    t.equal((await store.claimDueJobs(claim(at, 'node-a'))).length, 5);
    await store.recallMessage({ messageId: ids[1]!, byUserId: alice.id, reason: 'cancelled' });
    const released = await store.releaseScheduled([...ids].reverse().concat(later.id, ids[0]!), 'node-a', iso(at));
    t.strictSame(released.map((r) => r.message.id), [ids[0], ids[2], ids[3], ids[4]], 'not the recalled one, nor one not claimed; each once');
    t.ok(released.every((r) => r.message.sentAt === iso(at) && r.message.recipients.length === 2 && r.replaced === null), 'each out, to its recipients');
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id).sort((a, b) => a - b), [ids[0], ids[2], ids[3], ids[4]]);
    t.match((await store.alertsOf([later.id])).get(later.id), { scheduled: true }, 'one not due stays scheduled');
    t.strictSame(await store.releaseScheduled([], 'node-a', iso(at)), []);

    // A message and its correction due in the same tick: the message is withdrawn as it goes out; its recipients never get it.
    const due = at + MINUTE;
    const { message: old } = await store.storeAlertedMessage(message([carol], 'old'), { priority: 'normal', ack: false, deliverAt: iso(due) });
    const { message: fix } = await store.storeAlertedMessage(message([carol], 'fix'), {
      priority: 'normal', ack: false, deliverAt: iso(due), replaces: { messageId: old.id, byUserId: alice.id, reason: 'Replaced by a correction.' },
    });
    t.strictSame((await store.claimDueJobs(claim(due, 'node-b'))).map((j) => j.messageId).sort((a, b) => a - b), [old.id, fix.id]);
    const both = await store.releaseScheduled([fix.id, old.id], 'node-b', iso(due));
    t.strictSame(both.map((r) => r.message.id), [old.id, fix.id], 'by id: the message before its correction');
    t.equal(both[0]!.replaced, null);
    t.match(both[1]!.replaced, { changed: true, undelivered: [carol.id], delivered: [] });
    t.strictSame((await store.listUndelivered(carol.id, 20)).map((x) => x.id).filter((id) => id === old.id || id === fix.id), [fix.id], 'only the correction pops up');
  });

  t.test('automatic reminders: claimed when due, counted by their owner only, ended at the cap', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    const { message: m, alert } = await store.storeAlertedMessage(message([bob]), { priority: 'urgent', ack: true, remindEverySeconds: 60, remindMax: 2 });
    const due = Date.parse(alert.nextRemindAt!);
    t.strictSame(await store.claimDueJobs(claim(due - 1, 'a')), []);
    t.strictSame(await store.claimDueJobs(claim(due, 'a')), [{ kind: 'remind', messageId: m.id }]);
    t.equal(await store.remindMessage(m.id, new Set([bob.id]), { owner: 'b', nextAt: iso(due + MINUTE) }), null, 'not b\'s');
    const first = await store.remindMessage(m.id, new Set(), { owner: 'a', nextAt: iso(due + MINUTE) });
    t.match(first, { reminders: 1, pending: [bob.id] });
    t.match((await store.alertsOf([m.id])).get(m.id), { autoReminders: 1, reminders: 1, nextRemindAt: iso(due + MINUTE) });
    // A manual reminder counts as a reminder but not against the automatic cap.
    await store.remindMessage(m.id, new Set([bob.id]));
    t.strictSame(await store.claimDueJobs(claim(due + MINUTE, 'b')), [{ kind: 'remind', messageId: m.id }]);
    t.match(await store.remindMessage(m.id, new Set([bob.id]), { owner: 'b', nextAt: iso(due + 2 * MINUTE) }), { reminders: 3 });
    t.match((await store.alertsOf([m.id])).get(m.id), { autoReminders: 2, nextRemindAt: null }, 'the cap ends them');
    t.strictSame(await store.claimDueJobs(claim(due + 10 * MINUTE, 'c')), []);

    const { message: n, alert: na } = await store.storeAlertedMessage(message([bob], 'ended'), { priority: 'normal', ack: true, remindEverySeconds: 60, remindMax: 5 });
    const ndue = Date.parse(na.nextRemindAt!);
    await store.claimDueJobs(claim(ndue, 'a'));
    await store.finishReminders(n.id, 'b');
    t.not((await store.alertsOf([n.id])).get(n.id)!.nextRemindAt, null, 'only the owner ends them');
    await store.finishReminders(n.id, 'a');
    t.equal((await store.alertsOf([n.id])).get(n.id)!.nextRemindAt, null);
  });

  t.test('a scheduled message with reminders starts them one period after its release', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    const at = Date.now() + MINUTE;
    const { message: m } = await store.storeAlertedMessage(message([bob]), { priority: 'normal', ack: true, deliverAt: iso(at), remindEverySeconds: 120, remindMax: 3 });
    t.strictSame(await store.claimDueJobs(claim(at + 10 * MINUTE, 'a')), [{ kind: 'deliver', messageId: m.id }], 'no reminder before it is out');
    await store.releaseScheduled([m.id], 'a', iso(at + 10 * MINUTE));
    t.equal(Date.parse((await store.alertsOf([m.id])).get(m.id)!.nextRemindAt!), at + 12 * MINUTE);
  });

  t.test('claims are bounded and, from several stores on one database at once, each job goes to one claimer', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    const at = Date.now() + MINUTE;
    const ids: number[] = [];
    for (let i = 0; i < 24; i++) {
      ids.push((await store.storeAlertedMessage(message([bob], `s${i}`), { priority: 'normal', ack: true, deliverAt: iso(at) })).message.id);
    }
    const others = [store, await adapter.reopen(t, store), await adapter.reopen(t, store)];
    const got: DueJob[][] = others.map(() => []);
    // Every store claims at once, again and again, 5 at a time, until nothing is left.
    for (let round = 0; round < 10; round++) {
      const batches = await Promise.all(others.map((s, i) => s.claimDueJobs(claim(at, `node-${i}`, 5))));
      batches.forEach((b, i) => { t.ok(b.length <= 5, 'at most the limit'); got[i]!.push(...b); });
      if (batches.every((b) => b.length === 0)) break;
    }
    const all = got.flat().map((j) => j.messageId).sort((a, b) => a - b);
    t.strictSame(all, ids, 'every job claimed exactly once');
  });

  t.test('the runner hands a tick\'s deliveries to handleDeliveries together, its reminders to handle one by one', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    let now = Date.now();
    const at = now + 30 * MINUTE;
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await store.storeAlertedMessage(message([bob], `d${i}`), { priority: 'normal', ack: false, deliverAt: iso(at) })).message.id);
    const { message: r, alert } = await store.storeAlertedMessage(message([bob], 'remind'), { priority: 'normal', ack: true, remindEverySeconds: 60 });
    const batches: number[][] = [];
    const single: DueJob[] = [];
    const runner = new DueJobRunner({
      store, owner: 'runner-2', clock: { now: () => now }, limit: 10,
      handleDeliveries: async (messageIds, ctx) => { batches.push(messageIds); await store.releaseScheduled(messageIds, ctx.owner, iso(ctx.nowMs)); },
      handle: async (job, ctx) => { single.push(job); await store.finishReminders(job.messageId, ctx.owner); },
      onError: (err) => { throw err; },
    });
    now = Math.max(at, Date.parse(alert.nextRemindAt!)) + 1000;
    t.equal(await runner.tick(), 4);
    t.strictSame(batches, [ids], 'the deliveries, in one call');
    t.strictSame(single, [{ kind: 'remind', messageId: r.id }]);
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id).sort((a, b) => a - b), [...ids, r.id].sort((a, b) => a - b));
    t.equal(await runner.tick(), 0, 'done once');
  });

  t.test('the runner claims and runs due jobs as its clock moves, once', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    const start = Date.now();
    let now = start;
    const at = start + 30 * MINUTE;
    const { message: m } = await store.storeAlertedMessage(message([bob]), { priority: 'normal', ack: false, deliverAt: iso(at) });
    const ran: Array<DueJob & { owner: string }> = [];
    const errors: unknown[] = [];
    const runner = new DueJobRunner({
      store, owner: 'runner-1', clock: { now: () => now }, limit: 10,
      handle: async (job, ctx) => { ran.push({ ...job, owner: ctx.owner }); await store.releaseScheduled([job.messageId], ctx.owner, iso(ctx.nowMs)); },
      onError: (err) => errors.push(err),
    });
    t.equal(await runner.tick(), 0, 'nothing due yet');
    now = at + 1000;
    t.equal(await runner.tick(), 1);
    t.strictSame(ran, [{ kind: 'deliver', messageId: m.id, owner: 'runner-1' }]);
    now += 10 * MINUTE;
    t.equal(await runner.tick(), 0, 'done once');
    t.equal((await store.getMessage(m.id))!.sentAt, iso(at + 1000));
    t.strictSame(errors, []);
  });
});
