/**
 * Store contract: registration requests (conflicts, limits, decisions in one transaction) and
 * users (the admin account, members, resolving addressees, status and password changes).
 */
import t from 'tap';
import { StoreError, isStoreError, type RegistrationRequest, type Store } from '../../../src/core/ports/store.js';
import { forEachAdapter } from './adapters.js';
import { adminOf, credentialsMail, ISO, registration, seedMembers } from './fixtures.js';

const conflictOn = (field: 'username' | 'email') => ({ name: 'StoreError', kind: 'conflict', failure: { field } });
const names = (list: Array<{ username: string }>): string[] => list.map((r) => r.username);
const approve = async (store: Store, requestId: number) =>
  store.approveRegistration({ requestId, adminId: (await adminOf(store)).id, passwordHash: 'h', mail: credentialsMail((await store.getRegistration(requestId))!) });
/** A mail for a request id that may not exist (the store must refuse before it queues anything). */
const anyMail = { kind: 'credentials', to: 'nobody@example.org', subject: 's', sealedText: 'x' };

forEachAdapter(t, (t, adapter) => {
  t.test('a new request is stored as pending with what was submitted', async (t) => {
    const store = await adapter.open(t);
    const request = await store.createRegistration(registration('alice'));
    t.match(request, {
      username: 'alice', email: 'alice@example.org', institution: 'Institution of alice', contact: 'Contact alice',
      phone: '+1 555 0100', address: '1 Main Street', fromAddress: '192.0.2.10',
      status: 'pending', reason: null, decidedAt: null, userId: null,
    });
    t.type(request.id, 'number');
    t.match(request.createdAt, ISO);
    t.strictSame(await store.getRegistration(request.id), request);
    t.equal(await store.getRegistration(request.id + 1), null);
  });

  t.test('a username or e-mail held by a user or a pending request cannot be requested again', async (t) => {
    const store = await adapter.open(t);
    await seedMembers(store, ['alice']);
    await store.createRegistration(registration('bob'));
    const refused = await store.createRegistration(registration('alice', { email: 'other@example.org' })).catch((e: unknown) => e);
    t.ok(refused instanceof StoreError, 'a StoreError');
    t.match(refused, { kind: 'conflict', failure: { field: 'username', value: 'alice' }, message: 'That username is already taken or requested.' });
    await t.rejects(store.createRegistration(registration('bob', { email: 'other@example.org' })), conflictOn('username'), 'pending username');
    await t.rejects(store.createRegistration(registration('carol', { email: 'alice@example.org' })), conflictOn('email'), 'a user\'s e-mail');
    await t.rejects(store.createRegistration(registration('carol', { email: 'bob@example.org' })), conflictOn('email'), 'a pending e-mail');
    t.strictSame(names(await store.listRegistrations('pending', { limit: 10 })), ['bob'], 'nothing more was stored');
  });

  t.test('a rejected request frees its username and e-mail address', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const first = await store.createRegistration(registration('alice'));
    await store.rejectRegistration({ requestId: first.id, adminId: admin.id, reason: 'unknown', mail: credentialsMail(first) });
    const second = await store.createRegistration(registration('alice'));
    t.equal(second.status, 'pending');
    t.ok(second.id > first.id, 'a new request, numbered after the first');
  });

  t.test('approving creates the member, marks the request, queues the mail and audits, together', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const pending = await store.createRegistration(registration('alice'));
    const { request, user, mailId } = await store.approveRegistration({
      requestId: pending.id, adminId: admin.id, passwordHash: 'hash-alice', mail: credentialsMail(pending),
    });
    t.match(user, {
      username: 'alice', role: 'member', status: 'active', mustChangePassword: true, passwordHash: 'hash-alice',
      institution: 'Institution of alice', contact: 'Contact alice', email: 'alice@example.org',
      phone: '+1 555 0100', address: '1 Main Street', lastLoginAt: null, lastLoginAddress: null,
    });
    t.match(user.createdAt, ISO);
    t.strictSame(await store.getUserByUsername('alice'), user);
    t.strictSame(await store.getUserById(user.id), user);
    t.match(request, { id: pending.id, status: 'approved', userId: user.id, reason: null, createdAt: pending.createdAt });
    t.match(request.decidedAt, ISO);
    t.strictSame(await store.getRegistration(pending.id), request);

    const mail = await store.getMail(mailId);
    t.match(mail, { kind: 'credentials', to: 'alice@example.org', sealedText: 'sealed:alice', attempts: 0, sentAt: null, lastError: null });
    t.equal(mail?.nextAttemptAt, mail?.createdAt, 'due at once');
    t.equal(mail?.createdAt, request.decidedAt, 'queued at the decision\'s instant');
    const [event] = await store.listAudit({ kind: 'registration_approved' }, { limit: 10 });
    t.match(event, { actorId: admin.id, subject: 'alice', at: request.decidedAt, detail: { requestId: pending.id, userId: user.id } });
  });

  t.test('a request can be decided only once', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const pending = await store.createRegistration(registration('alice'));
    const args = { requestId: pending.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail(pending) };
    await store.approveRegistration(args);
    const again = await store.approveRegistration(args).catch((e: unknown) => e);
    t.ok(again instanceof StoreError, 'a StoreError');
    t.match(again, { kind: 'already_decided', failure: { id: pending.id } });
    await t.rejects(store.rejectRegistration({ ...args, reason: 'no' }), { name: 'StoreError', kind: 'already_decided' });
    t.strictSame(names(await store.listMembers()), ['alice'], 'one member');
    t.equal((await store.listMail('all', { limit: 10 })).length, 1, 'one mail');
  });

  t.test('two approvals of one request at once: one wins, the other is already_decided', async (t) => {
    const store = await adapter.open(t);
    const pending = await store.createRegistration(registration('alice'));
    const outcomes = await Promise.allSettled([approve(store, pending.id), approve(store, pending.id)]);
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'one approval');
    t.match(outcomes.find((o) => o.status === 'rejected'), { reason: { kind: 'already_decided' } });
    t.strictSame(names(await store.listMembers()), ['alice']);
    t.equal((await store.listMail('all', { limit: 10 })).length, 1);
  });

  t.test('two requests for one username at once: one is stored, the other is a conflict', async (t) => {
    const store = await adapter.open(t);
    const outcomes = await Promise.allSettled([
      store.createRegistration(registration('alice', { email: 'a1@example.org' })),
      store.createRegistration(registration('alice', { email: 'a2@example.org' })),
      store.createRegistration(registration('zed', { email: 'a1@example.org' })),
    ]);
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'exactly one of the three (each clashes with the first)');
    t.equal((await store.listRegistrations('pending', { limit: 10 })).length, 1);
    for (const o of outcomes) if (o.status === 'rejected') t.ok(isStoreError(o.reason, 'conflict'), String(o.reason));
  });

  t.test('deciding a request that does not exist is not_found', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const err: unknown = await store
      .approveRegistration({ requestId: 42, adminId: admin.id, passwordHash: 'h', mail: anyMail })
      .catch((e: unknown) => e);
    t.ok(err instanceof StoreError, 'a StoreError');
    t.match(err, { kind: 'not_found', failure: { what: 'registration', id: 42 } });
    await t.rejects(store.rejectRegistration({ requestId: 42, adminId: admin.id, reason: 'r', mail: anyMail }), { name: 'StoreError', kind: 'not_found' });
  });

  t.test('a refused decision (an unknown request) creates nothing and queues no mail', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const pending = await store.createRegistration(registration('alice'));
    await t.rejects(store.approveRegistration({ requestId: pending.id + 100, adminId: admin.id, passwordHash: 'h', mail: anyMail }), { name: 'StoreError', kind: 'not_found' });
    await t.rejects(store.rejectRegistration({ requestId: pending.id + 100, adminId: admin.id, reason: 'r', mail: anyMail }), { name: 'StoreError', kind: 'not_found' });
    t.strictSame(await store.getRegistration(pending.id), pending);
    t.equal(await store.getUserByUsername('alice'), null);
    t.strictSame(await store.listMembers(), []);
    t.strictSame(await store.listMail('all', { limit: 10 }), []);
    t.strictSame(await store.listAudit({}, { limit: 10 }), []);
    t.equal((await approve(store, pending.id)).user.username, 'alice', 'and it can still be approved');
  });

  t.test('rejecting records the reason, queues the notice and audits, and creates no user', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const pending = await store.createRegistration(registration('alice'));
    const { request, mailId } = await store.rejectRegistration({
      requestId: pending.id, adminId: admin.id, reason: 'unknown institution',
      mail: { kind: 'rejection', to: pending.email, subject: 'Request declined', sealedText: 'sealed:unknown institution' },
    });
    t.match(request, { status: 'rejected', reason: 'unknown institution', userId: null });
    t.match(request.decidedAt, ISO);
    t.match(await store.getMail(mailId), { kind: 'rejection', sealedText: 'sealed:unknown institution' });
    t.equal(await store.getUserByUsername('alice'), null);
    const [event] = await store.listAudit({ kind: 'registration_rejected' }, { limit: 10 });
    t.match(event, { actorId: admin.id, subject: 'alice', detail: { requestId: pending.id, reason: 'unknown institution' } });
  });

  t.test('approving is refused when the username was taken after the request', async (t) => {
    const store = await adapter.open(t);
    // Requested before the admin account exists; ensureAdmin then takes the username.
    const forAdmin = await store.createRegistration(registration('admin'));
    await t.rejects(approve(store, forAdmin.id), conflictOn('username'));
    t.equal((await store.getRegistration(forAdmin.id))?.status, 'pending', 'still pending');
    t.strictSame(await store.listMembers(), []);
  });

  t.test('pending requests list oldest first and page with beforeId; all lists newest first', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const ids: number[] = [];
    for (const name of ['r1', 'r2', 'r3', 'r4']) ids.push((await store.createRegistration(registration(name))).id);
    await store.rejectRegistration({ requestId: ids[1]!, adminId: admin.id, reason: 'no', mail: anyMail });
    t.strictSame(names(await store.listRegistrations('pending', { limit: 10 })), ['r1', 'r3', 'r4']);
    t.strictSame(names(await store.listRegistrations('pending', { limit: 2 })), ['r1', 'r3']);
    t.strictSame(names(await store.listRegistrations('pending', { limit: 10, beforeId: ids[3]! })), ['r1', 'r3']);
    t.strictSame(names(await store.listRegistrations('rejected', { limit: 10 })), ['r2']);
    t.strictSame(names(await store.listRegistrations('approved', { limit: 10 })), []);
    t.strictSame(names(await store.listRegistrations('all', { limit: 3 })), ['r4', 'r3', 'r2']);
    t.strictSame(names(await store.listRegistrations('all', { limit: 3, beforeId: ids[1]! })), ['r1']);
  });

  t.test('requests pending from one address are capped; others, decided ones and unknown addresses are not', async (t) => {
    const store = await adapter.open(t);
    const limits = { maxPendingFromAddress: 2 };
    const first = await store.createRegistration(registration('a1'), limits);
    await store.createRegistration(registration('a2'), limits);
    const refused = await store.createRegistration(registration('a3'), limits).catch((e: unknown) => e);
    t.ok(isStoreError(refused, 'limit'), 'a limit StoreError');
    t.match(refused, { failure: { what: 'pending_registrations' }, message: '2 registration requests from this address are already waiting for a decision.' });
    t.equal((await store.listRegistrations('pending', { limit: 10 })).length, 2, 'nothing stored');
    await store.createRegistration(registration('b1', { fromAddress: '198.51.100.1' }), limits);
    await store.createRegistration(registration('n1', { fromAddress: null }), limits);
    await store.createRegistration(registration('n2', { fromAddress: null }), limits);
    await store.createRegistration(registration('n3', { fromAddress: null }), limits);
    await store.createRegistration(registration('a3'), {}); // no limit given
    await approve(store, first.id);
    await t.rejects(store.createRegistration(registration('a4'), limits), { name: 'StoreError', kind: 'limit' }, 'still two pending (a2, a3)');
    await approve(store, (await store.listRegistrations('pending', { limit: 1 }))[0]!.id);
    t.equal((await store.createRegistration(registration('a4'), limits)).status, 'pending', 'a decision frees a place');
  });

  t.test('requests from one address at once never pass the cap', async (t) => {
    const store = await adapter.open(t);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => store.createRegistration(registration(`c${i}`), { maxPendingFromAddress: 3 })),
    );
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 3);
    t.ok(outcomes.every((o) => o.status === 'fulfilled' || isStoreError(o.reason, 'limit')));
    t.equal((await store.listRegistrations('pending', { limit: 10 })).length, 3);
  });

  t.test('institutionsOf: the institution of each user asked for, by id; unknown ids absent', async (t) => {
    const store = await adapter.open(t);
    const [ana, ben] = await seedMembers(store, ['ana', 'ben', 'cai']);
    const got = await store.institutionsOf([ben!.id, ana!.id, 987654]);
    t.strictSame([...got.entries()].sort((a, b) => a[0] - b[0]), [[ana!.id, 'Institution of ana'], [ben!.id, 'Institution of ben']].sort((a, b) => (a[0] as number) - (b[0] as number)));
    t.strictSame(await store.institutionsOf([]), new Map());
  });

  t.test('ensureAdmin creates the admin account once, even when called at once', async (t) => {
    const store = await adapter.open(t);
    const created = await Promise.all([store.ensureAdmin('first-hash'), store.ensureAdmin('first-hash'), store.ensureAdmin('first-hash')]);
    t.strictSame(created.filter(Boolean), [true], 'exactly one call created it');
    t.equal(await store.ensureAdmin('second-hash'), false);
    t.match(await store.getUserByUsername('admin'), {
      role: 'admin', status: 'active', mustChangePassword: false, passwordHash: 'first-hash', email: '', institution: '',
    });
    t.strictSame(await store.listMembers(), [], 'the admin is not a member');
  });

  t.test('resolving usernames finds active members only and reports the rest in input order', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob, carol] = await seedMembers(store, ['alice', 'bob', 'carol']);
    await store.setUserStatus(bob!.id, 'suspended');
    const { found, missing } = await store.resolveActiveMembers(['carol', 'zed', 'bob', 'alice', 'admin', 'carol']);
    t.strictSame(found.map((u) => u.id), [carol!.id, alice!.id]);
    t.strictSame(found[0], await store.getUserById(carol!.id), 'whole records');
    t.strictSame(missing, ['zed', 'bob', 'admin']);
    t.strictSame(await store.resolveActiveMembers([]), { found: [], missing: [] });
    t.strictSame((await store.resolveActiveMembers(['alice'])).found.map((u) => u.id), [alice!.id], 'one name');
    t.strictSame(await store.resolveActiveMembers(['bob']), { found: [], missing: ['bob'] });
  });

  t.test('active member ids follow every change to the list, and a caller may keep its copy', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
    const first = await store.listActiveMemberIds();
    first.pop(); // a caller's own copy
    t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id], 'by id, without the admin');
    const [carol] = await seedMembers(store, ['carol']);
    t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id, carol!.id], 'a new member');
    await store.setUserStatus(alice!.id, 'suspended');
    t.strictSame(await store.listActiveMemberIds(), [bob!.id, carol!.id], 'a suspension');
    await store.setPassword(bob!.id, 'other-hash', false);
    await store.recordLogin(bob!.id, '192.0.2.1');
    t.strictSame(await store.listActiveMemberIds(), [bob!.id, carol!.id], 'other writes leave it alone');
    await store.setUserStatus(alice!.id, 'active');
    t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id, carol!.id], 'a reactivation');
  });

  t.test('the member list holds active and suspended members by username, byte order, without the admin', async (t) => {
    const store = await adapter.open(t);
    const [carol] = await seedMembers(store, ['carol', 'ab', 'a_b', 'a.c', 'a-b', 'Zed']);
    await store.setUserStatus(carol!.id, 'suspended');
    t.strictSame(
      (await store.listMembers()).map((u) => [u.username, u.status]),
      [['Zed', 'active'], ['a-b', 'active'], ['a.c', 'active'], ['a_b', 'active'], ['ab', 'active'], ['carol', 'suspended']],
      'as SQLite\'s binary collation orders them, whatever the database locale',
    );
  });

  t.test('a password change and a login are recorded on the user and show in the next read', async (t) => {
    const store = await adapter.open(t);
    const [alice] = await seedMembers(store, ['alice']);
    await store.setPassword(alice!.id, 'new-hash', false);
    await store.recordLogin(alice!.id, '198.51.100.7');
    const after = await store.getUserById(alice!.id);
    t.match(after, { passwordHash: 'new-hash', mustChangePassword: false, lastLoginAddress: '198.51.100.7' });
    t.match(after?.lastLoginAt, ISO);
    t.strictSame(await store.getUserByUsername('alice'), after, 'by name too');
    await store.setPassword(alice!.id, 'reset-hash', true);
    t.equal((await store.getUserByUsername('alice'))?.mustChangePassword, true);
    await store.recordLogin(alice!.id, null);
    t.equal((await store.getUserById(alice!.id))?.lastLoginAddress, null);
    await store.setUserStatus(alice!.id, 'suspended');
    t.equal((await store.getUserByUsername('alice'))?.status, 'suspended');
    t.equal(await store.getUserById(9999), null);
    t.equal(await store.getUserByUsername('nobody'), null);
  });
});
