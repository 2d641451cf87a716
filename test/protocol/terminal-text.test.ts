/** The one definition of what may not reach a terminal raw, and its two uses: shown (CLI) or dropped (TUI). */
import t from 'tap';
import { dropControls, hasTerminalControls, showControls } from '../../src/protocol/index.js';

t.test('control and bidi-override characters are shown as escapes; one field stays on one line', async (t) => {
  t.equal(showControls('Rapat\nFrom: admin\u001b]0;x\u0007'), 'Rapat\\nFrom: admin\\x1b]0;x\\x07');
  t.equal(showControls('a\tb\rc\u007f\u009b\u202e\u2066'), 'a\\tb\\rc\\x7f\\x9b\\u202e\\u2066');
  t.equal(showControls('ñandú 日本 📎 é'), 'ñandú 日本 📎 é', 'letters of every script stand for themselves');
});

t.test('a multi-line text keeps its line breaks and tabs; CR LF becomes LF, a lone CR is shown', async (t) => {
  t.equal(showControls('satu\r\ndua\tx\rtiga\u001b[2J\n', { lines: true }), 'satu\ndua\tx\\rtiga\\x1b[2J\n');
});

t.test('the full-screen clients drop them instead (tabs as spaces)', async (t) => {
  t.equal(dropControls('a\u001b[2Jb\u202ec\td\ne'), 'a[2Jbc    de');
  t.equal(dropControls('a\r\nb\rc\u0085', true), 'a\nb\nc');
});

t.test('the server asks whether a value holds any of them', async (t) => {
  for (const bad of ['\u0000', 'a\u001bb', '\u007f', '\u0085', '\u202a', '\u202e', '\u2066', '\u2069', '\n']) t.ok(hasTerminalControls(bad), JSON.stringify(bad));
  for (const fine of ['', 'budi@unhas.ac.id', 'laporan (1).pdf', 'ğüç 日本', '\u200f']) t.notOk(hasTerminalControls(fine), JSON.stringify(fine));
  t.notOk(hasTerminalControls('x'), 'the same answer when asked again (no regex state kept)');
});
