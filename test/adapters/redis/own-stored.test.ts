/**
 * The Redis bus hands a node its own large message whole when it hears it back (RedisBus.ownStored):
 * the other nodes hear its id only and read the members they hold from the store; the node that
 * stored it needs every recipient (to take back the marks its commit wrote for members who left
 * since) and has them already, so it reads none of the 51,000 rows of a broadcast from the store.
 */
import t from 'tap';
import { RedisBus, CARRIED_RECIPIENTS_MAX } from '../../../src/adapters/redis/bus.js';
import type { BusEvent } from '../../../src/core/ports/bus.js';
import type { Message } from '../../../src/core/ports/store.js';
import { requireCapability } from '../../helpers/capability.js';
import { until } from '../../helpers/siar.js';
import { freshPrefix, redisMissing, redisUrl } from '../../contract/redis.js';

type Stored = Extract<BusEvent, { type: 'message_stored' }>;

t.test('a node hears its own large message whole; another node hears its id', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await redisUrl();
  const prefix = freshPrefix();
  const from = await RedisBus.connect(url, 'from', { prefix });
  const to = await RedisBus.connect(url, 'to', { prefix });
  t.teardown(() => Promise.all([from.close(), to.close()]));
  const heardHere: Stored[] = [];
  const heardThere: Stored[] = [];
  from.subscribe((e) => { if (e.type === 'message_stored') heardHere.push(e); });
  to.subscribe((e) => { if (e.type === 'message_stored') heardThere.push(e); });
  const message = (id: number, recipients: number): Message => ({
    id, senderId: 1, sender: 'alice', audience: 'all', subject: 's', body: 'a body longer than nothing',
    sentAt: '2026-12-07T16:00:00.000Z', state: 'sent', uploadDeadline: null, attachments: [], via: null,
    recipients: Array.from({ length: recipients }, (_, i) => ({ userId: i + 2, username: `m${i}`, deliveredAt: null, readAt: null })),
  });
  const large = message(8, CARRIED_RECIPIENTS_MAX + 1);
  await from.publish({ type: 'message_stored', messageId: 8, institution: 'U', message: large, alert: null });
  await until('heard on both nodes', () => heardHere.length === 1 && heardThere.length === 1, 10_000);
  t.same(heardThere[0], { type: 'message_stored', messageId: 8, institution: 'U' }, 'the other node: its id');
  t.equal(heardHere[0]!.message, large, 'its own node: the message it published, every recipient and the whole body');
  t.equal(heardHere[0]!.alert, null);

  // Heard once: the same id published again by another node is not mistaken for it.
  await to.publish({ type: 'message_stored', messageId: 8, institution: 'U', message: message(8, CARRIED_RECIPIENTS_MAX + 1), alert: null });
  await until('heard again', () => heardHere.length === 2, 10_000);
  t.same(heardHere[1], { type: 'message_stored', messageId: 8, institution: 'U' }, 'from another node: its id only');
});
