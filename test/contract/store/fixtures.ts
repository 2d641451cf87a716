/** What the contract tests share besides the adapters: the time format and a few helpers. */
export { adminOf, credentialsMail, registration, seedMembers } from '../../server/store/helpers.js';

/** Every time a store returns: ISO 8601, UTC, milliseconds ('2026-01-02T03:04:05.678Z'). */
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An instant strictly between what happened before the call and what happens after it. */
export async function instantBetween(): Promise<string> {
  await sleep(5);
  const at = new Date().toISOString();
  await sleep(5);
  return at;
}

/** An ISO time an hour from now (a session's expiry, a retry that is not due yet). */
export const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString();
