import { adminCommands } from './admin.js';
import { adminOpsCommands } from './admin-ops.js';
import { alertCommands } from './alerts.js';
import { authCommands } from './auth.js';
import { channelCommands } from './channels.js';
import { groupCommands } from './groups.js';
import { messagingCommands } from './messaging.js';
import { registrationCommands } from './registration.js';
import { systemCommands } from './system.js';
import type { Command } from './types.js';

/** The command table: verb → command. Each area contributes its own handlers. */
export function buildCommandTable(extra: Command[] = []): Map<string, Command> {
  const table = new Map<string, Command>();
  const all = [
    ...systemCommands(() => table.values()),
    ...registrationCommands,
    ...authCommands,
    ...messagingCommands,
    ...alertCommands,
    ...channelCommands,
    ...groupCommands,
    ...adminCommands,
    ...adminOpsCommands,
    ...extra,
  ];
  for (const c of all) {
    if (table.has(c.verb)) throw new Error(`Duplicate command ${c.verb}`);
    table.set(c.verb, c);
  }
  return table;
}
