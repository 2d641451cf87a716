import blessed from 'blessed';
import type { State } from './model.js';
import type { TuiController } from './controller.js';
import type { Key } from './keys.js';
import { render } from './view.js';

/**
 * The blessed layer: two boxes (the screen's lines, and one overlay for popups, help, the
 * recipient picker and questions), keys in, resizes in. It draws whatever view.ts computes from
 * the controller's state and holds no state of its own.
 */
export interface TerminalOptions {
  mouse?: boolean;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

export interface Terminal {
  screen: blessed.Widgets.Screen;
  destroy(): void;
}

export function attachTerminal(controller: TuiController, opts: TerminalOptions = {}): Terminal {
  const screen = createScreen(opts);
  const main = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: '100%', tags: true, wrap: false });
  const over = blessed.box({
    parent: screen, top: 'center', left: 'center', width: 20, height: 5, tags: true, wrap: false, hidden: true,
    border: { type: 'line' }, padding: { left: 1, right: 1 }, style: { border: { fg: 'yellow' } },
  });
  screen.program.hideCursor();

  let scheduled: NodeJS.Timeout | null = null;
  let lastPopups = 0;
  let lastBells = 0;
  let destroyed = false;

  const draw = () => {
    scheduled = null;
    if (destroyed) return;
    try {
      const state = controller.state;
      const frame = render(state);
      main.setContent(frame.lines.join('\n'));
      const o = frame.overlay;
      if (o) {
        over.width = o.width;
        over.height = o.height;
        over.setLabel(o.title);
        over.style.border = { fg: o.kind === 'popup' ? 'yellow' : o.kind === 'confirm' || o.kind === 'alert' ? 'red' : 'cyan' };
        over.setContent(o.lines.join('\n'));
        over.show();
        over.setFront();
      } else {
        over.hide();
      }
      screen.render();
      ring(state);
    } catch {
      // Drawing must never take the client down; the next change draws again.
    }
  };
  const ring = (state: State) => {
    // Once per new popup, and again when an urgent alert asks (state.bells).
    if (state.popups.length > lastPopups || state.bells > lastBells) screen.program.bell();
    lastPopups = state.popups.length;
    lastBells = state.bells;
  };
  const schedule = () => {
    if (!scheduled && !destroyed) scheduled = setTimeout(draw, 15);
  };

  controller.on('change', schedule);
  const onRedraw = () => {
    if (destroyed) return;
    screen.realloc();
    draw();
  };
  controller.on('redraw', onRedraw);
  screen.on('resize', () => {
    controller.resize(Number(screen.width) || 80, Number(screen.height) || 24);
    schedule();
  });
  screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => {
    const k = normalizeKey(ch, key);
    if (k) controller.key(k);
  });
  if (opts.mouse) {
    screen.enableMouse();
    main.on('wheeldown', () => controller.key({ name: 'down' }));
    main.on('wheelup', () => controller.key({ name: 'up' }));
  }
  controller.resize(Number(screen.width) || 80, Number(screen.height) || 24);
  draw();

  return {
    screen,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      if (scheduled) clearTimeout(scheduled);
      controller.off('change', schedule);
      controller.off('redraw', onRedraw);
      try {
        screen.program.showCursor();
        screen.destroy();
      } catch {
        // already gone
      }
    },
  };
}

function createScreen(opts: TerminalOptions): blessed.Widgets.Screen {
  const base = {
    smartCSR: true, fullUnicode: true, autoPadding: false, warnings: false, title: 'siar',
    input: opts.input as NodeJS.ReadableStream | undefined, output: opts.output as NodeJS.WritableStream | undefined,
  };
  try {
    return blessed.screen(base as blessed.Widgets.IScreenOptions);
  } catch {
    // An unknown $TERM: fall back to plain xterm capabilities.
    return blessed.screen({ ...base, terminal: 'xterm' } as blessed.Widgets.IScreenOptions);
  }
}

/** blessed's key event → our Key. A carriage return arrives twice (return, then enter): keep enter. */
export function normalizeKey(ch: string | undefined, key: { name?: string; ctrl?: boolean; shift?: boolean; meta?: boolean } | undefined): Key | null {
  let name = key?.name ?? ch ?? '';
  if (name === 'return') return null;
  if (name === 'linefeed') name = 'enter';
  if (!name) return null;
  const k: Key = { name };
  if (ch !== undefined && ch !== '' && !key?.ctrl) k.ch = ch;
  if (key?.ctrl) k.ctrl = true;
  if (key?.shift) k.shift = true;
  if (key?.meta) k.meta = true;
  // Named keys carry no printable character (blessed gives "\t" for tab, "\r" for enter…).
  if (['enter', 'tab', 'escape', 'backspace', 'delete'].includes(name)) delete k.ch;
  return k;
}
