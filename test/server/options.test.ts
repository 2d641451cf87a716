/**
 * The option table (src/server/options.ts) is the one place server limits are written (issue 18
 * item 8): each row is complete, every ServerConfig field has a row, the defaults it gives are the
 * ones the server always had, and each kind of value reads back what it writes.
 */
import fc from 'fast-check';
import t from 'tap';
import { defaultConfig } from '../../src/server/default-config.js';
import { formatValue, maskSecret, maskSecretOf, parseValue, type NumberKind } from '../../src/server/option-kinds.js';
import { SERVER_OPTIONS, configFields, envName, optionNamed, type OptionSpec } from '../../src/server/options.js';
import { DEFAULT_THROTTLE } from '../../src/server/throttle.js';

t.test('every option has a flag, an environment variable, a file key, a group and a description', async (t) => {
  const names = SERVER_OPTIONS.map((o) => o.name);
  t.equal(new Set(names).size, names.length, 'no name twice');
  t.equal(new Set(SERVER_OPTIONS.map(envName)).size, names.length, 'no environment variable twice');
  for (const o of SERVER_OPTIONS) {
    t.match(o.name, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, `${o.name}: a flag name (--${o.name}) and a file key`);
    t.match(envName(o), /^SIAR_[A-Z0-9]+(_[A-Z0-9]+)*$/, `${o.name}: ${envName(o)}`);
    t.match(o.group, /^[A-Z][a-z ]+:$/, `${o.name}: a --help group`);
    t.ok(o.describe.length >= 10 && /^[a-zA-Z]/.test(o.describe), `${o.name}: a description`);
    if (o.default === null) {
      t.ok(o.unset?.means, `${o.name}: says what unset means`);
      t.doesNotThrow(() => parseValue(o, o.unset!.example), `${o.name}: its example is valid`);
    } else {
      t.same(parseValue(o, formatValue(o, o.default)), o.default, `${o.name}: the default reads back as written`);
    }
  }
  t.equal(envName(optionNamed('smtp')!), 'SIAR_SMTP', 'SIAR_SMTP keeps its name');
  t.equal(envName(optionNamed('max-connections')!), 'SIAR_MAX_CONNECTIONS');
});

/** The leaf fields of a config: `idleTimeoutMs`, `loginThrottle.maxKeys`. */
function leaves(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v) && k !== 'tls' ? leaves(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

t.test('every ServerConfig field is set by an option (the TLS pair by tls-cert and tls-key)', async (t) => {
  const set = new Set(SERVER_OPTIONS.flatMap((o) => (o.sets === undefined ? [] : typeof o.sets === 'string' ? [o.sets] : o.sets)));
  const fields = leaves(defaultConfig({ transferPorts: null }));
  for (const field of fields) {
    if (field === 'tls') t.ok(optionNamed('tls-cert') && optionNamed('tls-key'), 'tls: from tls-cert and tls-key');
    else t.ok(set.has(field as never), `${field} has an option`);
  }
  for (const field of set) t.ok(fields.includes(field), `${field} is a ServerConfig field`);
});

t.test('the defaults are the ones the server always had', async (t) => {
  // As src/server/config.ts wrote them before the table (maxConnections and dataDir depend on the machine).
  const before = {
    host: '127.0.0.1', port: 7400, mailFrom: 'siar <siar@localhost>', logLevel: 'info', maxFrameBytes: 64 * 1024,
    idleTimeoutMs: 5 * 60_000, sessionTtlMs: 12 * 60 * 60_000, maxQueuedFrames: 64, maxOutputBytes: 8 * 1024 * 1024,
    outputPauseBytes: 64 * 1024, outputStallTimeoutMs: 30_000, maxOutputBytesPerAddress: 32 * 1024 * 1024,
    maxOutputBytesTotal: 256 * 1024 * 1024, maxBadFrames: 10, maxPageSize: 500, maxBodyChars: 48 * 1024, maxSubjectChars: 200,
    maxPopupsAtLogin: 1000, fdCheckIntervalMs: 5_000, synchronous: 'NORMAL', loginThrottle: DEFAULT_THROTTLE, tls: null,
    frameTimeoutMs: 30_000, shutdownDeadlineMs: 10_000, maxAnonymousPerAddress: 64, maxConnectionsPerMember: 64,
    maxLoggedInPerAddress: 512, adminReservedConnections: 4, reservedSlotLoginTimeoutMs: 10_000,
    maxPendingRegistrationsPerAddress: 5, maxPendingRegistrations: 1000, maxSendsPerMinute: 120, maxReportsPerMinute: 60, memberQuotaBytes: 10 * 1024 ** 3,
    busyWaitMs: 5_000, transferHost: null, transferPorts: null, maxAttachmentBytes: 1024 ** 3, maxMessageAttachmentBytes: 4 * 1024 ** 3,
    maxAttachmentsPerMessage: 32, transferConnectTimeoutMs: 60_000, transferIdleTimeoutMs: 60_000, maxTransfersPerMember: 8,
    maxTransfers: 256, uploadWindowMs: 24 * 60 * 60_000, partialRetentionMs: 60 * 60_000, transferSweepIntervalMs: 60_000,
    minFreeDiskBytes: 64 * 1024 ** 2, registrationExpiryDays: 30, registrationExpiryCheckMs: 60 * 60_000, statsHistoryMinutes: 60,
    urgentSenders: 'members', remindMinIntervalMs: 60_000, expiredAttachmentGraceMs: 7 * 24 * 60 * 60_000, catchUpIntervalMs: 5_000,
    storePoolSize: 10,
  };
  const { dataDir, maxConnections, smtpUrl, store, bus, nodeId, leaseTtlMs, mailKeyFile, clusterName, ...now } = defaultConfig();
  t.same(now, before);
  t.equal(mailKeyFile, null, 'no --mail-key-file: the key in the data directory');
  t.equal(clusterName, null, 'no --cluster-name: Redis keys begin siar:');
  t.equal(leaseTtlMs, 15_000, 'a once-per-cluster job moves to another node about 15 s after its node dies');
  t.equal(smtpUrl, null, 'no SMTP: mail goes to files');
  t.equal(store, null, 'no --store: the SQLite file in the data directory');
  t.equal(bus, null, 'no --bus: a single node, everything in process');
  t.equal(nodeId, null, 'no --node-id: host and port');
  t.match(dataDir, /\/data$/);
  t.ok(maxConnections >= 1);
  t.same(defaultConfig().loginThrottle, DEFAULT_THROTTLE, 'the throttle defaults stay those of throttle.ts');
});

t.test('login-lockout-minutes sets the lock and the counting window, in milliseconds', async (t) => {
  t.same(configFields([[optionNamed('login-lockout-minutes')!, 20]]), { loginThrottle: { lockoutMs: 1_200_000, windowMs: 1_200_000 } });
  t.same(configFields([[optionNamed('transfer-host')!, null]]), {}, 'an unset value sets nothing');
});

t.test('sizes and durations read back what they write, at every value in bounds', async (t) => {
  const numeric = SERVER_OPTIONS.filter((o): o is OptionSpec & NumberKind => o.kind === 'integer' || o.kind === 'size' || o.kind === 'duration');
  fc.assert(fc.property(fc.constantFrom(...numeric), fc.double({ min: 0, max: 1, noNaN: true }), (o, at) => {
    const max = o.max ?? 2 ** 40;
    const value = Math.round(o.min + at * (max - o.min));
    const written = formatValue(o, value);
    if (parseValue(o, written) !== value) throw new Error(`${o.name}: ${value} written as ${written} reads back as ${parseValue(o, written)}`);
  }), { numRuns: 2000 });
  const size = optionNamed('max-attachment')!;
  t.equal(formatValue(size, 1024 ** 3), '1GiB');
  t.equal(formatValue(size, 1500), 1500);
  const duration = optionNamed('idle-timeout')!;
  t.equal(formatValue(duration, 90_000), '90s');
  t.equal(formatValue(duration, 250), '250ms');
  t.equal(parseValue(duration, 90), 90_000, 'a bare number of a duration is seconds, in the file as on the command line');
});

t.test('each kind refuses what it cannot be, with a sentence', async (t) => {
  const cases: Array<[string, string | number | boolean, RegExp]> = [
    ['port', '7400.5', /^"7400\.5" is not a whole number\.$/],
    ['port', 70000, /^must be at most 65535, not 70000\.$/],
    ['store-pool-size', 0, /^must be at least 1, not 0\.$/],
    ['store-pool-size', 500, /^must be at most 100, not 500\.$/],
    ['max-body', true, /^"true" is not a whole number\.$/],
    ['max-attachment', 0, /^must be at least 1, not 0\.$/],
    ['max-attachment', false, /^"false" is not a size/],
    ['idle-timeout', 'soon', /^"soon" is not a duration/],
    ['idle-timeout', 0, /^must be at least 1ms, not 0\.$/],
    ['fd-check-interval', '10ms', /^must be at least 1s \(or 0: never\), not 10ms\.$/],
    ['host', 'exa mple', /^"exa mple" is not a host name or IP address\.$/],
    ['host', '', /^the value is empty\.$/],
    ['log-level', 'loud', /^"loud" is not one of fatal, error, warn, info, debug, trace, silent\.$/],
    ['transfer-ports', '9-2', /is not a port range/],
    ['smtp', 'smtp://siar:hunter2@', /^is not a URL/],
    ['smtp', 'http://siar:hunter2@mail.example', /^must be a URL with a host, starting smtp:\/\/ or smtps:\/\/\.$/],
  ];
  for (const [name, raw, message] of cases) {
    t.throws(() => parseValue(optionNamed(name)!, raw), message, `${name}: ${String(raw)}`);
  }
  t.equal(parseValue(optionNamed('fd-check-interval')!, 0), 0, '0 where it means something (never)');
  t.equal(parseValue(optionNamed('host')!, '::1'), '::1');
  t.same(parseValue(optionNamed('transfer-ports')!, 40000), { from: 40000, to: 40000 }, 'one port, as a YAML number');
});

t.test('a secret is masked wherever it is shown', async (t) => {
  t.equal(maskSecret('smtp://siar:hunter2@mail.example:587'), 'smtp://siar:***@mail.example:587');
  t.equal(maskSecret('smtps://mail.example'), 'smtps://mail.example', 'nothing to hide');
  const store = SERVER_OPTIONS.find((o) => o.name === 'store')!;
  t.equal(maskSecretOf(store, 'postgres://siar:hunter2@db:5432/siar'), 'postgres://siar:***@db:5432/siar', 'the store\'s password');
  t.equal(maskSecretOf(store, '/var/lib/siar/siar.db'), '/var/lib/siar/siar.db', 'a store file path holds no password');
  t.throws(() => parseValue(store, 'mysql://siar:hunter2@db/siar'), { message: /^the value is not a store: give a file path/ }, 'an unknown store, its value not repeated');
  t.equal(maskSecret('not a url hunter2'), '***');
});
