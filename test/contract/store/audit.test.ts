/** Store contract: the audit trail (events as recorded, filters, newest first, paging). */
import t from 'tap';
import type { AuditFilter } from '../../../src/core/ports/store.js';
import { forEachAdapter } from './adapters.js';
import { adminOf, instantBetween, ISO } from './fixtures.js';

forEachAdapter(t, (t, adapter) => {
  t.test('an audit event keeps its fields and its detail as an object, keys in their order', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const detail = { reason: 'password', attempts: 3, nested: { b: 1, a: [1, 'two'] } };
    await store.audit({ kind: 'login_failed', subject: 'alice', address: '192.0.2.1', detail });
    await store.audit({ kind: 'member_suspended', actorId: admin.id, subject: 'bob' });
    const [suspended, failed] = await store.listAudit({}, { limit: 10 });
    t.match(suspended, { kind: 'member_suspended', actorId: admin.id, subject: 'bob', address: null, detail: {} });
    t.strictSame(failed, { id: failed!.id, at: failed!.at, kind: 'login_failed', actorId: null, subject: 'alice', address: '192.0.2.1', detail });
    t.equal(JSON.stringify(failed?.detail), JSON.stringify(detail), 'the detail reads back as written');
    t.match(failed?.at, ISO);
    t.ok(suspended!.id > failed!.id);
  });

  t.test('audit events filter by kind, subject, actor, involvement and time, newest first, paging with beforeId', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    await store.audit({ kind: 'login_failed', subject: 'alice' });
    const afterFirst = await instantBetween();
    await store.audit({ kind: 'login_failed', subject: 'bob' });
    await store.audit({ kind: 'password_changed', subject: 'alice' });
    const beforeLast = await instantBetween();
    await store.audit({ kind: 'login_failed', subject: 'alice' });
    await store.audit({ kind: 'member_suspended', subject: 'carol', actorId: admin.id });
    const all = (await store.listAudit({}, { limit: 10 })).reverse();
    const list = async (filter: AuditFilter, beforeId?: number) =>
      (await store.listAudit(filter, beforeId === undefined ? { limit: 10 } : { limit: 10, beforeId })).map((r) => `${r.kind}:${r.subject}`);

    t.strictSame(await list({ kind: 'login_failed' }), ['login_failed:alice', 'login_failed:bob', 'login_failed:alice']);
    t.strictSame(await list({ subject: 'alice' }), ['login_failed:alice', 'password_changed:alice', 'login_failed:alice']);
    t.strictSame(await list({ actorId: admin.id }), ['member_suspended:carol']);
    t.strictSame(await list({ involving: { username: 'admin', userId: admin.id } }), ['member_suspended:carol'], 'done by the admin');
    t.strictSame(await list({ involving: { username: 'bob', userId: null } }), ['login_failed:bob'], 'about bob');
    t.strictSame(await list({ sinceIso: afterFirst }), [
      'member_suspended:carol', 'login_failed:alice', 'password_changed:alice', 'login_failed:bob',
    ]);
    t.strictSame(await list({ sinceIso: afterFirst, untilIso: beforeLast }), ['password_changed:alice', 'login_failed:bob']);
    t.strictSame(await list({ kind: 'login_failed', subject: 'alice', sinceIso: afterFirst }), ['login_failed:alice']);
    t.strictSame(await list({ sinceIso: all[3]!.at }), ['member_suspended:carol', 'login_failed:alice'], 'since is inclusive');
    t.strictSame(await list({ untilIso: all[0]!.at }), [], 'until is exclusive');
    t.strictSame(await list({ kind: 'login_failed' }, all[3]!.id), ['login_failed:bob', 'login_failed:alice']);
    t.strictSame(await list({ kind: 'nothing_like_this' }), []);
    t.equal((await store.listAudit({}, { limit: 2 })).length, 2);
  });
});
