/**
 * Redis pub/sub ignores the database a connection selected: a channel is one for the whole server.
 * Two clusters kept apart by database number (redis://host/1, redis://host/2), as Redis users
 * usually separate applications, must not hear each other's events. Before the channel named its
 * database, they did: a password change in one closed a member's sessions in the other (seen as
 * "The password was changed from another session" in unrelated test files run side by side).
 */
import t from 'tap';
import { RedisBus } from '../../../src/adapters/redis/bus.js';
import type { BusEvent } from '../../../src/core/ports/bus.js';
import { requireCapability } from '../../helpers/capability.js';
import { until } from '../../helpers/siar.js';
import { redisMissing, redisUrl } from '../../contract/redis.js';

t.test('clusters on two databases of one Redis, same prefix: each hears only its own events', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await redisUrl();
  const connect = async (db: number, node: string) => {
    const bus = await RedisBus.connect(`${url}/${db}`, `${node}-${process.pid}`);
    t.teardown(() => bus.close());
    const heard: BusEvent[] = [];
    bus.subscribe((e) => { heard.push(e); });
    return { bus, heard };
  };
  const a1 = await connect(3, 'a1');
  const a2 = await connect(3, 'a2');
  const b1 = await connect(4, 'b1');
  const zero = await connect(0, 'z');
  const event = (userId: number): BusEvent => ({ type: 'session_closed', userId, sessions: { all: true }, code: 'SESSION_CLOSED', message: 'x', decidedAt: 1 });

  await a1.bus.publish(event(1));
  await b1.bus.publish(event(2));
  await zero.bus.publish(event(3));
  await until('each cluster heard its own', () => a2.heard.length >= 1 && b1.heard.length >= 1 && zero.heard.length >= 1);
  // A round trip more on every connection: anything crossing over would have arrived by now.
  await Promise.all([a1, a2, b1, zero].map(async (n) => { await n.bus.publish(event(99)); }));
  await until('the fences came back', () => [a1, a2, b1, zero].every((n) => n.heard.some((e) => e.type === 'session_closed' && e.userId === 99)));
  const users = (heard: BusEvent[]) => heard.flatMap((e) => (e.type === 'session_closed' && e.userId !== 99 ? [e.userId] : []));
  t.strictSame(users(a2.heard), [1], 'database 3 hears database 3 only');
  t.strictSame(users(a1.heard), [1]);
  t.strictSame(users(b1.heard), [2], 'database 4 hears database 4 only');
  t.strictSame(users(zero.heard), [3], 'database 0 (the default) hears its own, on the channel it always had');
});
