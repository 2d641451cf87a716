import { open, type Command } from './types.js';

export function systemCommands(table: () => Iterable<Command>): Command[] {
  return [
    open('PING', 'PING — answers OK pong=1; keeps an idle connection open', async () => ({ pong: 1 })),
    open('HELP', 'HELP — lists the commands', async (ctx) => {
      for (const c of table()) ctx.item({ verb: c.verb, access: c.access, usage: c.usage });
    }),
    open('QUIT', 'QUIT — closes the connection after the reply', async (ctx) => {
      setImmediate(() => ctx.conn.close());
      return { bye: 1 };
    }),
  ];
}
