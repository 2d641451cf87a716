/** Lease contract: one holder at a time, renewal only by the holder, expiry hands it on, tokens only grow. */
import t from 'tap';
import { forEachAdapter } from './adapters.js';

const TTL = 300;

forEachAdapter(t, (t, adapter) => {
  t.test('one holder at a time; the others are refused until it releases', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node();
    const b = await medium.node();
    const first = await a.acquire('sweep', TTL);
    t.ok(first, 'the first node gets it');
    t.equal(await b.acquire('sweep', TTL), null, 'the second is refused');
    t.equal(await a.acquire('sweep', TTL), null, 'even the holder cannot acquire it twice');
    t.ok(await b.acquire('other', TTL), 'another name is another lease');
    await b.release(first!); // released by whoever has the grant: the token decides
    const second = await b.acquire('sweep', TTL);
    t.ok(second, 'free again once released');
    t.ok(second!.token > first!.token, 'the new grant has a greater token');
  });

  t.test('the holder renews; a lease not renewed runs out and passes on; the stale grant stays lost', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node();
    const b = await medium.node();
    const held = await a.acquire('sweep', TTL);
    t.ok(held);
    await medium.pass(TTL / 2);
    t.equal(await a.renew(held!, TTL), true, 'renewed before it ran out');
    await medium.pass(TTL / 2 + 50);
    t.equal(await b.acquire('sweep', TTL), null, 'the renewal kept it');
    await medium.pass(TTL + 100);
    const taken = await b.acquire('sweep', TTL);
    t.ok(taken, 'after its time-to-live, another node acquires it');
    t.ok(taken!.token > held!.token, 'with a greater token');
    t.equal(await a.renew(held!, TTL), false, 'the old holder cannot renew it');
    await a.release(held!);
    t.equal(await a.acquire('sweep', TTL), null, 'nor release the new holder\'s');
    t.equal(await b.renew(taken!, TTL), true, 'the new holder renews');
  });

  t.test('a lease that ran out cannot be renewed, even with nobody else holding it', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node();
    const held = await a.acquire('sweep', TTL);
    await medium.pass(TTL + 100);
    t.equal(await a.renew(held!, TTL), false);
    const again = await a.acquire('sweep', TTL);
    t.ok(again && again.token > held!.token, 'acquired anew with a new token');
  });
});
