/** The first-run screen: register (r) or log in (l). */
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';

export function welcomeKey(host: TuiHost, k: Key): void {
  const cursor = host.state.welcomeCursor;
  if (k.name === 'up' || k.name === 'down') host.dispatch({ type: 'welcome/move', delta: k.name === 'up' ? -1 : 1 });
  else if (k.ch === 'r' || k.ch === 'R' || (k.name === 'enter' && cursor === 0)) host.dispatch({ type: 'navigate', screen: 'register', push: true });
  else if (k.ch === 'l' || k.ch === 'L' || (k.name === 'enter' && cursor === 1)) host.dispatch({ type: 'navigate', screen: 'login', push: true });
  else if (k.ch === 'q') host.quit();
  else if (k.ch === '?') host.dispatch({ type: 'help', open: true });
}
