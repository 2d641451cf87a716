import { itemRowsTemplate } from '../../protocol/index.js';
import { open, type Command } from './types.js';

export function systemCommands(table: () => Iterable<Command>): Command[] {
  // HELP's rows never change once the table is built: encoded at the first HELP, then one string
  // per reply (anyone may ask for HELP, thousands of times in a row).
  let helpRows: ((id: string) => string) | undefined;
  return [
    open('PING', 'PING — answers OK pong=1; keeps an idle connection open', async () => ({ pong: 1 })),
    open('HELP', 'HELP — lists the commands', async (ctx) => {
      helpRows ??= itemRowsTemplate([...table()].map((c) => ({ verb: c.verb, access: c.access, usage: c.usage })));
      ctx.encodedItems(helpRows(ctx.requestId));
    }),
    open('QUIT', 'QUIT — closes the connection after the reply', async (ctx) => {
      setImmediate(() => ctx.conn.close());
      return { bye: 1 };
    }),
  ];
}
