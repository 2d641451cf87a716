/**
 * recipientNames: `to=a,b` and `to=a|to=b` both work, names are trimmed and lower-cased, duplicates
 * dropped, bad names refused. The single-name shortcut must agree with the general path.
 */
import t from 'tap';
import fc from 'fast-check';
import { recipientNames } from '../../src/server/commands/audience-args.js';

function outcome(values: string[]): string[] | string {
  try {
    return recipientNames(values);
  } catch (err) {
    return (err as { code: string }).code;
  }
}

t.test('examples', async (t) => {
  t.strictSame(recipientNames(['Alice']), ['alice']);
  t.strictSame(recipientNames([' bob ']), ['bob']);
  t.strictSame(recipientNames(['ann,bob', 'bob', '@ops']), ['ann', 'bob', '@ops']);
  t.strictSame(recipientNames(['']), []);
  t.strictSame(recipientNames(['  ']), []);
  t.throws(() => recipientNames(['no spaces']), { code: 'UNKNOWN_RECIPIENT' });
  t.throws(() => recipientNames(['@Bad Group']), { code: 'UNKNOWN_GROUP' });
});

t.test('one value gives what the same names spread over several values give', async (t) => {
  const piece = fc.constantFrom('alice', 'Bob', ' carol ', '@ops', '', ' ', 'x y', '@', 'a.b_c-d', 'ALICE');
  fc.assert(fc.property(fc.array(piece, { minLength: 1, maxLength: 4 }), (pieces) => {
    const one = outcome([pieces.join(',')]);
    const spread = outcome(pieces.length > 1 ? pieces : [pieces[0]!, '']);
    t.strictSame(one, spread, JSON.stringify(pieces));
    return true;
  }));
});
