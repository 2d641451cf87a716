/** What the CLI's top-level handler prints for a failure: one line, never JavaScript's own error text. */
import t from 'tap';
import { RemoteError } from '../../src/client/connection.js';
import { CliError, describeError } from '../../src/client/cli/common.js';

t.test('a bug in siar is reported as a bug, not with its internal text', async (t) => {
  for (const err of [new TypeError('opts.to.split is not a function'), new RangeError('Invalid array length'), Object.assign(new TypeError('The "path" argument must be of type string'), { code: 'ERR_INVALID_ARG_TYPE' })]) {
    const said = describeError(err);
    t.notMatch(said, err.message, err.message);
    t.match(said, /^siar failed inside \(a bug/);
  }
  t.equal(describeError(Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' })), 'Invalid URL', 'a bad value the user gave is still explained');
});

t.test('reasons stay on one line, whatever text they quote', async (t) => {
  t.equal(describeError(new RemoteError('BAD_ARGUMENT', 'The attachment name "a\nb\u001b[2J" is bad.')), 'The attachment name "a\\nb\\x1b[2J" is bad. (BAD_ARGUMENT)');
  t.equal(describeError(new CliError('rejected: not\r\nus')), 'rejected: not\\r\\nus');
});
