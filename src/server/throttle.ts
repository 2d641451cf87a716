/**
 * Password brute-force protection (LOGIN, PASSWD old=; docs/PROTOCOL.md §Limits): the policy and
 * its settings. The counts are behind the port src/core/ports/login-throttle.ts (in process:
 * src/adapters/memory/login-throttle.ts); command handlers use it through password-guard.ts.
 */
export { DEFAULT_THROTTLE } from '../core/ports/login-throttle.js';
export type {
  FailureOutcome, LockScope, LoginAlert, LoginThrottleState, Refusal, ThrottleOptions, ThrottleReport, ThrottleStart, ThrottledAttempt,
} from '../core/ports/login-throttle.js';
