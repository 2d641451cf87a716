import { ProtocolError } from './errors.js';

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

// ignoreBOM: a U+FEFF at the start of a line is content, not a byte-order mark (lines are decoded one by one).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A complete line from the reader, or a line that was not valid UTF-8 (the stream stays usable). */
export type ReadLine = { ok: true; line: string } | { ok: false; error: ProtocolError };

/**
 * Splits a byte stream into lines (docs/PROTOCOL.md §Framing). Pure: no I/O.
 * Keeps at most `maxFrameBytes` of an unfinished line; past that it throws FRAME_TOO_LONG
 * before buffering more, and the caller must close the connection.
 * A trailing CR before LF is dropped, so `nc -C` and telnet work.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private buffered = 0;
  constructor(readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  push(chunk: Buffer): ReadLine[] {
    const out: ReadLine[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      if (this.buffered + piece.length > this.maxFrameBytes) throw this.tooLong();
      const bytes = this.buffered === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.buffered = 0;
      out.push(decodeLine(bytes));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.buffered + rest.length > this.maxFrameBytes) throw this.tooLong();
      // Copy so the caller's buffer (possibly pooled) is not retained.
      this.parts.push(Buffer.from(rest));
      this.buffered += rest.length;
    }
    return out;
  }

  /** Bytes of an unfinished line held right now. */
  get pendingBytes(): number {
    return this.buffered;
  }

  private tooLong(): ProtocolError {
    this.parts = [];
    this.buffered = 0;
    return new ProtocolError('FRAME_TOO_LONG', `A frame is longer than ${this.maxFrameBytes} bytes.`);
  }
}

function decodeLine(bytes: Buffer): ReadLine {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  try {
    return { ok: true, line: utf8.decode(bytes.subarray(0, end)) };
  } catch {
    return { ok: false, error: new ProtocolError('BAD_UTF8') };
  }
}
