/**
 * The arguments that name audiences and members: channel and group names (`#name`, `@name`),
 * username lists, SEND's `to=` and `channel=`, and the enumerated choices of the channel verbs.
 * Only reading and checking arguments; the rules are in src/core/services.
 */
import { AUDIENCE_NAME_PATTERN, SiarError, type Args } from '../../protocol/index.js';
import { USERNAME_PATTERN } from '../validation.js';

/** A channel or group name from an argument; a leading `#` (channels) or `@` (groups) is allowed. */
export function audienceName(raw: string | undefined, key: string, prefix: '#' | '@'): string {
  const value = raw?.trim().toLowerCase() ?? '';
  const name = value.startsWith(prefix) ? value.slice(1) : value;
  if (!name) throw new SiarError('MISSING_ARGUMENT', `${key}= is required.`);
  if (!AUDIENCE_NAME_PATTERN.test(name)) {
    throw new SiarError('BAD_ARGUMENT', `${key} must be 2-32 characters: a-z first, then a-z, 0-9, ".", "_" or "-".`);
  }
  return name;
}

/** `username=a,b` and `username=a|username=b` both work; lower-cased, duplicates dropped. */
export function usernameList(args: Args, key: string, required: boolean): string[] {
  const names = [...new Set(args.getAll(key).flatMap((v) => v.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean))];
  if (required && names.length === 0) throw new SiarError('MISSING_ARGUMENT', `Name at least one member (${key}=).`);
  for (const n of names) {
    if (!USERNAME_PATTERN.test(n)) throw new SiarError('BAD_ARGUMENT', `"${n}" is not a valid username.`);
  }
  return names;
}

/** One of the allowed values (lower-cased), or undefined when the argument is absent or empty. */
export function choice<T extends string>(args: Args, key: string, allowed: readonly T[]): T | undefined {
  const v = args.get(key)?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new SiarError('BAD_ARGUMENT', `${key} must be one of ${allowed.join(', ')}.`);
  return v as T;
}

/** `to=a,b` and `to=a|to=b` both work, and `@group` names a group; order kept, duplicates dropped. */
export function recipientNames(values: string[]): string[] {
  const names = values.length === 1 && !values[0]!.includes(',') // a direct message's usual to=NAME
    ? [values[0]!.trim().toLowerCase()].filter(Boolean)
    : values.flatMap((v) => v.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (n.startsWith('@')) {
      if (!AUDIENCE_NAME_PATTERN.test(n.slice(1))) throw new SiarError('UNKNOWN_GROUP', `"${n}" is not a valid group name.`);
    } else if (!USERNAME_PATTERN.test(n)) {
      throw new SiarError('UNKNOWN_RECIPIENT', `"${n}" is not a valid username.`);
    }
  }
  return [...new Set(names)];
}

/** The `channel=` argument, if any (a leading `#` is allowed). */
export function channelArgument(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : audienceName(value, 'channel', '#');
}
