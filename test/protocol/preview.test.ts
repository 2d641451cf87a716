/** A popup's preview, and the start of a body another node needs to show the same preview. */
import t from 'tap';
import fc from 'fast-check';
import { PREVIEW_CHARS, bodyForPreview, previewOf } from '../../src/protocol/index.js';
import { NUM_RUNS } from './arbitraries.js';

/** Bodies around the preview's length, of one- and two-unit code points (so cuts fall inside pairs). */
const body = fc.array(fc.constantFrom('a', 'é', '日', '📎', ' ', '\n'), { minLength: PREVIEW_CHARS - 3, maxLength: PREVIEW_CHARS + 4 })
  .chain((head) => fc.string({ maxLength: 40 }).map((tail) => head.join('') + tail));

t.test('the cut body shows the same preview as the whole body, and is no longer than it must be', async (t) => {
  fc.assert(fc.property(body, (b) => {
    const cut = bodyForPreview(b);
    if (previewOf(cut) !== previewOf(b)) return false;
    if (!b.startsWith(cut)) return false;
    return [...cut].length === Math.min([...b].length, PREVIEW_CHARS + 1);
  }), { numRuns: NUM_RUNS });
  t.pass('checked');
});

t.test('a body the preview shows whole travels whole; a longer one is cut after PREVIEW_CHARS + 1 code points', async (t) => {
  t.equal(bodyForPreview('Rapat senat pukul 10'), 'Rapat senat pukul 10');
  const long = '📎'.repeat(PREVIEW_CHARS + 10);
  t.equal(bodyForPreview(long), '📎'.repeat(PREVIEW_CHARS + 1), 'never half an emoji');
  t.equal(previewOf(bodyForPreview(long)), `${'📎'.repeat(PREVIEW_CHARS - 1)}…`);
});
