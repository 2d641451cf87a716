/**
 * The login throttle on Redis (issue 19): the policy of src/core/ports/login-throttle.ts, the same as
 * the in-process engine (src/adapters/memory/login-throttle.ts), with its entries where every node
 * sees them, so failures through one node count toward a lock on every other.
 *
 * - One hash per entry: a (username, address) pair, an address, a username (failures, window start,
 *   lock end, attempts refused and since when, whether the alert went out, a sample of addresses).
 * - Attempts under way: a sorted set per pair and per address, one member per attempt scored by when
 *   it stops counting: a node that dies mid-check leaks nothing longer than a failure counts (windowMs).
 * - Each step (begin, succeed, fail, abandon, a sweep batch) is one Lua script: atomic across nodes.
 *   The clock is the caller's (passed to every script), as in process.
 * - Bounded: an index of the entries scored by last use; past maxKeys the oldest are dropped, their
 *   counts reported first. Every key expires by itself some time after its lock and window are over.
 * - Reports (refused attempts after a lock, an alert window's summary) are made by the node whose
 *   script finds them final; the script clears them at once, so each is made once in the cluster.
 *   Every node sweeps (a batch per script); stopping a node reports nothing: its counts stay for the
 *   others.
 * - Redis unreachable (connection.ts: nothing waits for it): an attempt is counted in this node's
 *   memory instead (the in-process engine, same policy and options) and the log says so, so a Redis
 *   outage neither locks every member out nor lets guessing run unthrottled; failures through other
 *   nodes meanwhile count on those nodes only.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  DEFAULT_THROTTLE, type FailureOutcome, type LockScope, type LoginAlert, type LoginThrottleState, type Refusal,
  type ThrottleOptions, type ThrottleReport, type ThrottleStart,
} from '../../core/ports/login-throttle.js';
import { BusUnreachable } from '../../core/ports/unreachable.js';
import { MemoryLoginThrottle } from '../memory/login-throttle.js';
import { DEFAULT_PREFIX, openRedis, runScript, type RedisAdapterOptions } from './connection.js';

/** Entries one sweep script looks at. */
const SWEEP_BATCH = 500;

/**
 * Shared by every script. ARGV[1..11]: now, freeFailures, lockoutFailures, addressLockoutFailures,
 * lockoutMs, windowMs, alertFailures, maxKeys, maxSampleAddresses, how long an unsettled attempt
 * counts (windowMs), the index key.
 */
const PRELUDE = `
local T = tonumber(ARGV[1])
local FREE, LOCK, ALOCK = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local LOCKMS, WINDOW, ALERT = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local MAXKEYS, SAMPLE, ATTEMPT = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local INDEX = ARGV[11]
local reports = {}

local function load(key)
  local h = redis.call('HMGET', key, 'first', 'f', 'lock', 'r', 'rs', 'al', 'addrs', 'u', 'a')
  if not h[1] then return nil end
  return { key = key, first = tonumber(h[1]), f = tonumber(h[2]), lock = tonumber(h[3]), r = tonumber(h[4]),
    rs = tonumber(h[5]), al = tonumber(h[6]), addrs = h[7], u = h[8], a = h[9] }
end

local function new(key, u, a)
  return { key = key, first = T, f = 0, lock = 0, r = 0, rs = 0, al = 0, addrs = '[]', u = u or '', a = a or '' }
end

local function inflight(e)
  redis.call('ZREMRANGEBYSCORE', e.key .. ':fl', '-inf', T)
  return redis.call('ZCARD', e.key .. ':fl')
end

-- Reports what is final and starts a finished lock or window again ('touch', 'sweep' or 'all').
local function expire(e, mode)
  local lockOver = e.lock ~= 0 and e.lock <= T
  local windowOver = e.lock <= T and T - e.first > WINDOW
  local reportRefused = mode == 'all' or (mode == 'sweep' and e.lock <= T) or (mode == 'touch' and lockOver)
  if e.r > 0 and reportRefused then
    reports[#reports + 1] = { 'refused', e.u, e.a, e.r, e.rs, T }
    e.r = 0
    e.rs = 0
  end
  if e.al == 1 and (windowOver or mode == 'all') then
    reports[#reports + 1] = { 'alert_ended', e.u, e.a, e.f, e.first, T, e.addrs }
    e.al = 0
  end
  if lockOver or windowOver then
    e.f = 0
    e.first = T
    e.lock = 0
    e.addrs = '[]'
  end
end

local function live(key)
  local e = load(key)
  if e then expire(e, 'touch') end
  return e
end

local function save(e, touch)
  redis.call('HSET', e.key, 'first', e.first, 'f', e.f, 'lock', e.lock, 'r', e.r, 'rs', e.rs, 'al', e.al, 'addrs', e.addrs, 'u', e.u, 'a', e.a)
  local keep = math.max(e.lock, e.first + WINDOW) - T + WINDOW + ATTEMPT
  redis.call('PEXPIRE', e.key, keep)
  redis.call('PEXPIRE', e.key .. ':fl', keep)
  if touch then redis.call('ZADD', INDEX, T, e.key) else redis.call('ZADD', INDEX, 'NX', T, e.key) end
end

local function drop(key)
  redis.call('DEL', key, key .. ':fl')
  redis.call('ZREM', INDEX, key)
end

-- The oldest entries beyond MAXKEYS go, their counts reported first.
local function bound()
  while redis.call('ZCARD', INDEX) > MAXKEYS do
    local oldest = redis.call('ZRANGE', INDEX, 0, 0)[1]
    local e = load(oldest)
    if e then expire(e, 'all') end
    drop(oldest)
  end
end
`;

/** KEYS: pair, address, username. ARGV[12..]: attempt id. */
const BEGIN = `${PRELUDE}
local p, a = live(KEYS[1]), live(KEYS[2])
local function refusal(e, limit, scope)
  if not e then return nil end
  local r = nil
  if e.lock > T then r = { scope, 1, e.lock - T }
  elseif e.f + inflight(e) >= limit then r = { scope, 0, 0 } end
  if r then
    if e.r == 0 then e.rs = T end
    e.r = e.r + 1
  end
  return r
end
local refused = refusal(p, LOCK, 'pair')
if not refused then refused = refusal(a, ALOCK, 'address') end
if refused then
  if p then save(p, false) end
  if a then save(a, false) end
  return cjson.encode({ refused = refused, reports = reports })
end
p = p or new(KEYS[1], nil, nil)
a = a or new(KEYS[2], nil, nil)
p.u = ARGV[13]
p.a = ARGV[14]
a.a = ARGV[14]
local user = live(KEYS[3])
redis.call('ZADD', KEYS[1] .. ':fl', T + ATTEMPT, ARGV[12])
redis.call('ZADD', KEYS[2] .. ':fl', T + ATTEMPT, ARGV[12])
local over = math.max(p.f - FREE, a.f - LOCK, user and (user.f - ALERT) or -1)
save(p, false)
save(a, false)
if user then save(user, false) end
bound()
return cjson.encode({ over = over, reports = reports })
`;

/** KEYS: pair, address. ARGV[12]: attempt id; ARGV[13]: 1 when the password was right (the pair starts again). */
const SETTLE = `${PRELUDE}
local removed = redis.call('ZREM', KEYS[1] .. ':fl', ARGV[12])
redis.call('ZREM', KEYS[2] .. ':fl', ARGV[12])
if ARGV[13] == '1' then
  local p = load(KEYS[1])
  if p then
    p.f = 0
    save(p, false)
  end
end
return cjson.encode({ removed = removed, reports = reports })
`;

/** KEYS: pair, address, username. ARGV[12]: attempt id; 13, 14: username, address. */
const FAIL = `${PRELUDE}
redis.call('ZREM', KEYS[1] .. ':fl', ARGV[12])
redis.call('ZREM', KEYS[2] .. ':fl', ARGV[12])
local p = live(KEYS[1]) or new(KEYS[1], ARGV[13], ARGV[14])
local a = live(KEYS[2]) or new(KEYS[2], nil, ARGV[14])
local u = live(KEYS[3]) or new(KEYS[3], ARGV[13], nil)
p.f = p.f + 1
a.f = a.f + 1
u.f = u.f + 1
local lockedNow = nil
if p.f >= LOCK and p.lock <= T then
  p.lock = T + LOCKMS
  lockedNow = 'pair'
end
if a.f >= ALOCK and a.lock <= T then
  a.lock = T + LOCKMS
  lockedNow = lockedNow or 'address'
end
local addrs = cjson.decode(u.addrs)
local seen = false
for _, x in ipairs(addrs) do if x == ARGV[14] then seen = true end end
if not seen and #addrs < SAMPLE then addrs[#addrs + 1] = ARGV[14] end
u.addrs = cjson.encode(addrs)
local alert = nil
if u.f >= ALERT and u.al == 0 then
  u.al = 1
  alert = { u.f, u.first, u.addrs }
end
save(p, true)
save(a, true)
save(u, true)
bound()
return cjson.encode({ lockedNow = lockedNow, alert = alert, reports = reports })
`;

/** ARGV[12]: the rank to start from. Looks at one batch of entries; returns the next rank (0 when done). */
const SWEEP = `${PRELUDE}
local start = tonumber(ARGV[12])
local keys = redis.call('ZRANGE', INDEX, start, start + ${SWEEP_BATCH} - 1)
local kept = 0
for _, key in ipairs(keys) do
  local e = load(key)
  if not e then
    drop(key)
  else
    expire(e, 'sweep')
    if e.f == 0 and e.r == 0 and e.lock <= T and e.al == 0 and inflight(e) == 0 then drop(key)
    else
      save(e, false)
      kept = kept + 1
    end
  end
end
local nextRank = 0
if #keys == ${SWEEP_BATCH} then nextRank = start + kept end
return cjson.encode({ next = nextRank, reports = reports })
`;

/** What a script returns: cjson encodes an empty table as {} and a missing value as nothing. */
interface ScriptResult {
  refused?: [LockScope, 0 | 1, number];
  over?: number;
  removed?: number;
  lockedNow?: LockScope;
  alert?: [failures: number, since: number, addresses: string];
  next?: number;
  reports: unknown;
}

type RawReport =
  | ['refused', username: string, address: string, attempts: number, since: number, until: number]
  | ['alert_ended', username: string, address: string, failures: number, since: number, until: number, addresses: string];

function addressesOf(json: string): string[] {
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

export interface RedisLoginThrottleOptions extends RedisAdapterOptions {
  /** The clock (the contract suite runs a fake one); Date.now by default. */
  now?: () => number;
}

export class RedisLoginThrottle implements LoginThrottleState {
  private reportTo: (report: ThrottleReport) => void = () => undefined;
  /** Counts the attempts made while Redis is unreachable, on this node only. */
  private readonly local: MemoryLoginThrottle;
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | null = null;
  private closed = false;

  private constructor(private readonly redis: Redis, readonly options: ThrottleOptions, opts: RedisLoginThrottleOptions) {
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}throttle:`;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => undefined);
    this.local = new MemoryLoginThrottle(options, this.now);
  }

  static async connect(url: string, options: ThrottleOptions = DEFAULT_THROTTLE, opts: RedisLoginThrottleOptions = {}): Promise<RedisLoginThrottle> {
    const redis = await openRedis(url, `${opts.prefix ?? DEFAULT_PREFIX}throttle`, opts.onError ?? (() => undefined));
    return new RedisLoginThrottle(redis, options, opts);
  }

  get onReport(): (report: ThrottleReport) => void {
    return this.reportTo;
  }

  set onReport(report: (report: ThrottleReport) => void) {
    this.reportTo = report;
    this.local.onReport = report;
  }

  async begin(username: string, address: string): Promise<ThrottleStart> {
    const id = randomUUID();
    const keys = this.keys(username, address);
    const r = await this.runOrSay('login attempts are counted on this node only until it is back', BEGIN, keys, id, username, address);
    if (!r) return this.local.begin(username, address);
    if (r.refused) {
      const [scope, locked, retryAfterMs] = r.refused;
      const refused: Refusal = { scope, locked: locked === 1, retryAfterMs };
      return { refused };
    }
    const delayMs = this.delayFor(r.over ?? -1);
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      return true;
    };
    return {
      attempt: {
        succeed: async () => {
          if (settle()) await this.runOrSay(FORGOTTEN, SETTLE, keys.slice(0, 2), id, '1');
        },
        abandon: async () => {
          if (settle()) await this.runOrSay(FORGOTTEN, SETTLE, keys.slice(0, 2), id, '0');
        },
        fail: async (): Promise<FailureOutcome> => {
          if (!settle()) return { lockedNow: null, alert: null, delayMs: 0 };
          const f = await this.runOrSay('a failed login is counted on this node only', FAIL, keys, id, username, address);
          if (!f) {
            // Redis went away during the check: the failure counts on this node instead.
            const started = await this.local.begin(username, address);
            return started.attempt ? started.attempt.fail() : { lockedNow: null, alert: null, delayMs };
          }
          const alert: LoginAlert | null = f.alert
            ? { username, failures: f.alert[0], since: f.alert[1], addresses: addressesOf(f.alert[2]) }
            : null;
          return { lockedNow: f.lockedNow ?? null, alert, delayMs };
        },
      },
    };
  }

  /** Sweeps every reportIntervalMs until stop(). */
  start(): void {
    this.local.start();
    clearInterval(this.timer);
    this.timer = setInterval(() => { void this.sweep().catch(this.onError); }, this.options.reportIntervalMs);
    this.timer.unref();
  }

  /**
   * Stops sweeping and lets go of Redis (the node is stopping); the counts stay there for the other
   * nodes, and for this one when it is back.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.local.stop();
    await this.sweeping?.catch(() => undefined);
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Reports what is final and forgets what is idle, a batch per script. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      let next = 0;
      do next = (await this.run(SWEEP, [], String(next))).next ?? 0;
      while (next > 0);
    })().finally(() => { this.sweeping = null; });
    return this.sweeping;
  }

  /** Entries tracked (for tests and the bound). */
  async size(): Promise<number> {
    return this.redis.zcard(this.indexKey());
  }


  /**
   * The script's result, or null when Redis is unreachable: onError (the node's rate-limited log
   * line) then hears what is done instead, `meaning`.
   */
  private async runOrSay(meaning: string, script: string, keys: string[], ...args: string[]): Promise<ScriptResult | null> {
    try {
      return await this.run(script, keys, ...args);
    } catch (err) {
      if (!(err instanceof BusUnreachable)) throw err;
      this.onError(err.withMeaning(meaning));
      return null;
    }
  }

  private delayFor(over: number): number {
    if (over < 0) return 0;
    return Math.min(this.options.baseDelayMs * 2 ** over, this.options.maxDelayMs);
  }

  private async run(script: string, keys: string[], ...args: string[]): Promise<ScriptResult> {
    const o = this.options;
    const argv = [
      this.now(), o.freeFailures, o.lockoutFailures, o.addressLockoutFailures, o.lockoutMs, o.windowMs, o.alertFailures, o.maxKeys,
      MAX_SAMPLE_ADDRESSES, o.windowMs, this.indexKey(),
    ].map(String);
    const result = JSON.parse(await runScript(this.redis, script, keys, [...argv, ...args]) as string) as ScriptResult;
    for (const raw of Array.isArray(result.reports) ? result.reports as RawReport[] : []) this.report(raw);
    return result;
  }

  private report(raw: RawReport): void {
    let report: ThrottleReport;
    if (raw[0] === 'refused') {
      const [, username, address, attempts, since, until] = raw;
      report = { kind: 'refused', scope: username === '' ? 'address' : 'pair', username: username === '' ? null : username, address, attempts, since, until };
    } else {
      const [, username, , failures, since, until, addresses] = raw;
      report = { kind: 'alert_ended', username, failures, addresses: addressesOf(addresses), since, until };
    }
    try {
      this.reportTo(report);
    } catch (err) {
      this.onError(err);
    }
  }

  private keys(username: string, address: string): string[] {
    return [`${this.prefix}p:${username}\n${address}`, `${this.prefix}a:${address}`, `${this.prefix}u:${username}`];
  }

  private indexKey(): string {
    return `${this.prefix}index`;
  }
}

/** Settling an attempt Redis cannot hear: it stops counting there by itself (windowMs), so it is only logged. */
const FORGOTTEN = 'an attempt under way is forgotten by Redis when its window ends';

/** As in process: the addresses a per-username alert names, at most. */
const MAX_SAMPLE_ADDRESSES = 16;
