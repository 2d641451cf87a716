/** Key presses as the terminal layer reports them, and the text edits they make in a field. */
import type { EditKey } from './editor.js';

/** A key press (names follow blessed: enter, escape, tab, up…). */
export interface Key {
  name: string;
  ch?: string;
  ctrl?: boolean;
  shift?: boolean;
  meta?: boolean;
}

/** Rows a page key moves. */
export const PAGE = 10;

/** Maps a terminal key to a text edit, or null. */
export function editKeyOf(k: Key, multiline: boolean): EditKey | null {
  if (k.ctrl) {
    switch (k.name) {
      case 'a': return { kind: 'home' };
      case 'e': return { kind: 'end' };
      case 'u': return { kind: 'killStart' };
      case 'k': return { kind: 'killEnd' };
      case 'left': return { kind: 'wordLeft' };
      case 'right': return { kind: 'wordRight' };
      default: return null;
    }
  }
  if (k.meta) return null;
  switch (k.name) {
    case 'backspace': return { kind: 'backspace' };
    case 'delete': return { kind: 'delete' };
    case 'left': return { kind: 'left' };
    case 'right': return { kind: 'right' };
    case 'home': return { kind: 'home' };
    case 'end': return { kind: 'end' };
    case 'up': return multiline ? { kind: 'up' } : null;
    case 'down': return multiline ? { kind: 'down' } : null;
    case 'enter': return multiline ? { kind: 'newline' } : null;
    default:
  }
  if (k.ch && k.ch.length > 0 && !/^[\u0000-\u001f\u007f]$/.test(k.ch)) return { kind: 'insert', text: k.ch };
  return null;
}
