/** Value formats, units and media types: pure functions. */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { detectMediaType, mediaTypeFromName } from '../../src/transfer/media-type.js';
import { formatBytes, parseByteSize, parseDuration, parsePortRange } from '../../src/protocol/units.js';
import {
  EMPTY_SHA256, checkAttachmentName, decodeDeclaration, encodeDeclaration, formatHostPort, parseHostPort,
} from '../../src/transfer/wire.js';
import { mp4Bytes, pngBytes, sha256, wavBytes } from './helpers.js';

t.test('a declaration round-trips, names with commas, spaces and non-ASCII included', async (t) => {
  for (const name of ['a.txt', 'laporan, final.pdf', 'Undangan Seminar Nasional 2025.pdf', 'ñandú—日本語 📎.png', '=odd=name']) {
    const d = { name, size: 1234, sha256: 'ab'.repeat(32) };
    t.strictSame(decodeDeclaration(encodeDeclaration(d)), d, name);
  }
});

t.test('a malformed declaration decodes to null', async (t) => {
  for (const v of ['', '12', '12,abc,name', `-1,${'ab'.repeat(32)},x`, `01,${'ab'.repeat(32)},x`, `1,${'AB'.repeat(32)},x`, `99999999999999999,${'ab'.repeat(32)},x`]) {
    t.equal(decodeDeclaration(v), null, JSON.stringify(v));
  }
});

t.test('attachment names may not carry paths, control characters or surrounding blanks', async (t) => {
  t.equal(checkAttachmentName('Foto kegiatan (1).jpg'), null);
  t.equal(checkAttachmentName('ğüç 日本.txt'), null);
  for (const bad of ['', '../etc/passwd', 'a/b', 'a\\b', 'tab\there', 'nl\nhere', '.', '..', ' lead', 'trail ', 'x'.repeat(256)]) {
    t.type(checkAttachmentName(bad), 'string', JSON.stringify(bad));
  }
});

t.test('attachment names are at most 255 bytes in UTF-8 and hold no C1 or bidi-override character', async (t) => {
  t.equal(checkAttachmentName(`${'é'.repeat(125)}.txt`), null, '254 bytes');
  t.match(checkAttachmentName(`${'é'.repeat(126)}.txt`), /longer than 255 bytes/, '256 bytes in 130 characters');
  for (const bad of ['gambar\u202etxt.exe', 'a\u2066b', 'csi\u009b2J', 'del\u007f']) {
    t.match(checkAttachmentName(bad), /control or bidirectional-override character/, JSON.stringify(bad));
  }
});

t.test('addresses print and parse as host:port, IPv6 in brackets', async (t) => {
  t.equal(formatHostPort('127.0.0.1', 4000), '127.0.0.1:4000');
  t.equal(formatHostPort('::1', 4000), '[::1]:4000');
  t.strictSame(parseHostPort('[::1]:4000'), { host: '::1', port: 4000 });
  t.strictSame(parseHostPort('10.1.2.3:65535'), { host: '10.1.2.3', port: 65535 });
  t.equal(parseHostPort('10.1.2.3'), null);
  t.equal(parseHostPort('host:0'), null);
});

t.test('sizes, durations and port ranges parse as people write them', async (t) => {
  t.equal(parseByteSize('1048576'), 1048576);
  t.equal(parseByteSize('1GiB'), 1024 ** 3);
  t.equal(parseByteSize('1g'), 1024 ** 3);
  t.equal(parseByteSize('500M'), 500 * 1024 ** 2);
  t.equal(parseByteSize('100MB'), 100_000_000);
  t.throws(() => parseByteSize('lots'));
  t.equal(parseDuration('60'), 60_000);
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('24h'), 86_400_000);
  t.throws(() => parseDuration('soon'));
  t.strictSame(parsePortRange('40000-40099'), { from: 40000, to: 40099 });
  t.strictSame(parsePortRange('40000'), { from: 40000, to: 40000 });
  t.throws(() => parsePortRange('40099-40000'));
  t.throws(() => parsePortRange('0-10'));
  t.equal(formatBytes(5), '5 B');
  t.equal(formatBytes(-1), '?');
  t.equal(formatBytes(null), '?');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(1024 ** 3), '1.0 GiB');
});

t.test('the empty sha256 constant is the hash of no bytes', async (t) => {
  t.equal(EMPTY_SHA256, sha256(''));
});

t.test('media types come from the content, whatever the name says, and from the name when the content says nothing', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-media-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[string, Buffer | string, string]> = [
    ['photo.png', pngBytes(), 'image/png'],
    ['sound.wav', wavBytes(), 'audio/wav'],
    ['clip.mp4', mp4Bytes(), 'video/mp4'],
    ['disguised.txt', pngBytes(), 'image/png'],
    ['notes.txt', 'plain words\n', 'text/plain'],
    ['table.csv', 'a,b\n1,2\n', 'text/csv'],
    ['blob', Buffer.from([1, 2, 3]), 'application/octet-stream'],
  ];
  for (const [name, data, type] of cases) {
    const file = path.join(dir, name);
    writeFileSync(file, data);
    t.equal(await detectMediaType(createReadStream(file), name), type, name);
  }
  t.equal(mediaTypeFromName('REPORT.PDF'), 'application/pdf', 'extensions are case-insensitive');
  t.equal(await detectMediaType(createReadStream(path.join(dir, 'missing.png')), 'missing.png'), 'image/png', 'an unreadable file falls back to the name');
});
