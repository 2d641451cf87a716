/**
 * A fan-out's writes (a broadcast to 10,000 members, bench scenario 2): each popup is handed to its
 * socket as it is pushed, not queued for the end of the turn, so the first recipient does not wait
 * for the whole loop; and a command's OK leaves before the work that follows it (the popups of the
 * message it stored). Real loopback sockets; what the socket has been handed is `bytesWritten`.
 */
import t from 'tap';
import { LocalConnections } from '../../src/server/local-connections.js';
import { createDispatcher } from '../../src/server/dispatcher.js';
import type { Command, Services } from '../../src/server/commands/types.js';
import { serverSideConnection, waitFor } from '../helpers/server-connection.js';

const frame = (id: number): Buffer => Buffer.from(`*|POPUP|id=${id}|subject=s\n`);

t.test('a fan-out popup is handed to the socket at once, in order after what the turn queued before it', async (t) => {
  const local = new LocalConnections();
  const bob = await serverSideConnection(t, local, { id: 7, username: 'bob' });
  t.equal(local.pushPopup(7, 1, frame(1)), 1);
  t.equal(bob.conn.socket.bytesWritten, frame(1).length, 'written in this turn, not at its end');
  bob.conn.send('r1|OK|x=1');
  t.equal(local.pushPopup(7, 2, frame(2)), 1);
  t.equal(bob.conn.socket.bytesWritten, frame(1).length + 'r1|OK|x=1\n'.length + frame(2).length, 'the reply queued before it went with it');
  t.equal(local.pushPopup(7, 2, frame(2)), 0, 'an id once');
  await waitFor(() => bob.received().split('\n').length === 4);
  t.equal(bob.received(), `${frame(1)}r1|OK|x=1\n${frame(2)}`);
});

t.test('a command\'s OK is handed to the socket before the work after its reply runs', async (t) => {
  const local = new LocalConnections();
  const peer = await serverSideConnection(t, local);
  let writtenWhenWorkRan = -1;
  const note: Command = {
    verb: 'NOTE', access: 'anyone', usage: 'NOTE',
    async handler(ctx) {
      ctx.afterReply(() => { writtenWhenWorkRan = peer.conn.socket.bytesWritten; });
      return { done: 1 };
    },
  };
  const dispatch = createDispatcher({} as Services, new Map([['NOTE', note]]));
  await dispatch(peer.conn, 'n1|NOTE');
  t.equal(writtenWhenWorkRan, 'n1|OK|done=1\n'.length, 'the OK went first');
  await waitFor(() => peer.received() === 'n1|OK|done=1\n');
});
