/**
 * SessionExpiry: watches normally arrive in expiry order (every LOGIN's session lives the same
 * time), but a session re-attached with RESUME keeps its earlier expiry; it still fires on time.
 */
import t from 'tap';
import { SessionExpiry } from '../../src/server/session-expiry.js';

t.test('an out-of-order watch fires at its own time, before later ones; forget and re-watch hold', async (t) => {
  const fired: Array<[string, number]> = [];
  const start = Date.now();
  const expiry = new SessionExpiry<string>((k) => fired.push([k, Date.now() - start]));
  expiry.watch('late', start + 400);
  expiry.watch('resumed', start + 100);
  expiry.watch('gone', start + 50);
  expiry.forget('gone');
  expiry.watch('moved', start + 60);
  expiry.watch('moved', start + 700);
  t.equal(expiry.size, 3);
  await new Promise((r) => setTimeout(r, 900));
  t.same(fired.map(([k]) => k), ['resumed', 'late', 'moved'], 'in expiry order, the forgotten one never');
  t.ok(fired[0]![1] < 350, `the resumed one fired at ${fired[0]![1]} ms, not behind the later one`);
  t.equal(expiry.size, 0);
});
