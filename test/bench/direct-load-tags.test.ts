/**
 * The tags of the direct-message load's runs (bench/lib/direct-load.ts): each run on the same
 * clients (each level of the qos scenario) gets its own, so a popup of one run arriving late is
 * never taken for the next run's message with the same number. The qos scenario reused `q` for
 * every level: a late `q17` of level N=10 was counted as level N=20's message 17 (early, and its own
 * popup then as a duplicate).
 */
import t from 'tap';
import { messageNumber, runTag } from '../../bench/lib/direct-load.js';

t.test('every run has its own tag, of lower-case letters', async (t) => {
  const tags = Array.from({ length: 1000 }, (_, i) => runTag('q', i));
  t.equal(new Set(tags).size, tags.length, 'a thousand runs, a thousand tags');
  t.ok(tags.every((tag) => /^q[a-z]+$/.test(tag)), 'letters only (the harness refuses others)');
  t.same(tags.slice(0, 3), ['qa', 'qb', 'qc']);
  t.throws(() => runTag('q', -1), /whole number/);
});

t.test('a popup of one run is never counted as another run\'s message', async (t) => {
  const tags = Array.from({ length: 60 }, (_, i) => runTag('q', i));
  for (const mine of tags) {
    t.equal(messageNumber(mine, `${mine}17`), 17);
    for (const other of tags) {
      if (other !== mine) t.equal(messageNumber(mine, `${other}17`), null, `${other}17 is not ${mine}'s`);
    }
  }
  // The qos scenario's levels, as they ran before: the same tag for each, so level 2 took level 1's late popup.
  t.equal(messageNumber('q', 'q17'), 17, 'one tag for every level cannot tell them apart');
  t.equal(messageNumber('qa', 'qa1x'), null, 'not digits after the tag: not the harness\'s');
  t.equal(messageNumber('qa', undefined), null);
});
