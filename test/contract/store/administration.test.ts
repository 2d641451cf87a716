/**
 * Store contract: administration done in one transaction — expiring old registration requests
 * (notice mail and audit for each) and resetting a member's password (sessions closed, mail, audit).
 */
import t from 'tap';
import { StoreError } from '../../../src/core/ports/store.js';
import type { OutgoingMail, RegistrationRequest, User } from '../../../src/core/ports/store.js';
import { forEachAdapter } from './adapters.js';
import { ISO, adminOf, credentialsMail, inOneHour, instantBetween, registration, seedMembers } from './fixtures.js';

const expiryNotice = (r: RegistrationRequest): OutgoingMail => ({ kind: 'expiry', to: r.email, subject: 'expired', sealedText: `sealed:${r.username}` });
const resetMail = (u: User): OutgoingMail => ({ kind: 'password_reset', to: u.email, subject: 'reset', sealedText: `sealed:${u.username}` });
/** The notices the server makes before expiring (nothing of the caller runs inside the transaction). */
const noticesFor = (requests: RegistrationRequest[]): Map<number, OutgoingMail> => new Map(requests.map((r) => [r.id, expiryNotice(r)]));

forEachAdapter(t, (t, adapter) => {
  t.test('expiring marks every pending request created before the cutoff, with a notice and an audit each', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const old1 = await store.createRegistration(registration('old1'));
    const decided = await store.createRegistration(registration('decided'));
    await store.rejectRegistration({ requestId: decided.id, adminId: admin.id, reason: 'no', mail: credentialsMail(decided) });
    const old2 = await store.createRegistration(registration('old2'));
    const cutoff = await instantBetween();
    const fresh = await store.createRegistration(registration('fresh'));

    const expired = await store.expireRegistrations({ olderThanIso: cutoff, actorId: admin.id, mails: noticesFor([old1, decided, old2, fresh]) });
    t.strictSame(expired.map((e) => e.request.username), ['old1', 'old2'], 'in the order they were made');
    for (const { request, mailId } of expired) {
      t.match(request, { status: 'expired', decidedAt: ISO, userId: null, reason: null });
      t.strictSame(await store.getRegistration(request.id), request);
      t.match(await store.getMail(mailId), { kind: 'expiry', to: request.email, sealedText: `sealed:${request.username}` });
    }
    t.strictSame(
      (await store.listAudit({ kind: 'registration_expired' }, { limit: 10 })).map((e) => [e.subject, e.actorId, e.detail]),
      [['old2', admin.id, { requestId: old2.id, createdAt: old2.createdAt }], ['old1', admin.id, { requestId: old1.id, createdAt: old1.createdAt }]],
    );
    t.equal((await store.getRegistration(fresh.id))?.status, 'pending');
    t.equal((await store.getRegistration(decided.id))?.status, 'rejected');
    t.strictSame(await store.expireRegistrations({ olderThanIso: cutoff, actorId: null, mails: noticesFor([old1, old2, fresh]) }), [], 'nothing left to expire');
    t.equal((await store.createRegistration(registration('old1'))).status, 'pending', 'an expired request frees its username');
  });

  t.test('expiring takes only the requests given a notice: one made after the caller listed them waits', async (t) => {
    const store = await adapter.open(t);
    const a = await store.createRegistration(registration('a'));
    const b = await store.createRegistration(registration('b'));
    const expired = await store.expireRegistrations({ olderThanIso: inOneHour(), actorId: null, mails: noticesFor([a]) });
    t.strictSame(expired.map((e) => e.request.username), ['a']);
    t.equal((await store.getRegistration(b.id))?.status, 'pending', 'b had no notice: still pending');
    t.strictSame((await store.listMail('all', { limit: 10 })).map((m) => m.to), ['a@example.org'], 'one notice queued');
    t.equal((await store.listAudit({ kind: 'registration_expired' }, { limit: 10 })).length, 1);
  });

  t.test('a password reset sets a password to change, closes the sessions, queues the mail and audits', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
    for (const token of ['a1', 'a2']) await store.createSession({ userId: alice!.id, tokenHash: token, address: null, expiresAt: inOneHour() });
    await store.createSession({ userId: bob!.id, tokenHash: 'b1', address: null, expiresAt: inOneHour() });
    await store.setPassword(alice!.id, 'own-hash', false);

    const { user, sessions, mailId } = await store.resetPassword({
      userId: alice!.id, adminId: admin.id, passwordHash: 'reset-hash', address: '192.0.2.9', mail: resetMail(alice!),
    });
    t.equal(sessions, 2);
    t.match(user, { id: alice!.id, passwordHash: 'reset-hash', mustChangePassword: true });
    t.strictSame(await store.getUserById(alice!.id), user);
    t.equal(await store.findSession('a1'), null);
    t.equal(await store.findSession('a2'), null);
    t.not(await store.findSession('b1'), null, 'other members keep theirs');
    t.match(await store.getMail(mailId), { kind: 'password_reset', to: 'alice@example.org', sealedText: 'sealed:alice' });
    const [event] = await store.listAudit({ kind: 'password_reset' }, { limit: 10 });
    t.match(event, { actorId: admin.id, subject: 'alice', address: '192.0.2.9', detail: { sessions: 2, mailId } });
  });

  t.test('a password reset of a user that does not exist is not_found and changes nothing', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const [alice] = await seedMembers(store, ['alice']);
    const missing = await store.resetPassword({ userId: 9999, adminId: admin.id, passwordHash: 'x', address: null, mail: resetMail(alice!) }).catch((e: unknown) => e);
    t.ok(missing instanceof StoreError);
    t.match(missing, { kind: 'not_found', failure: { what: 'user', id: 9999 } });
    t.equal((await store.listMail('all', { limit: 10 })).length, 1, 'only the approval\'s mail');
    t.strictSame(await store.listAudit({ kind: 'password_reset' }, { limit: 10 }), []);
  });
});
