/**
 * Media types of attachments: by content (magic numbers, through file-type) once the bytes are
 * in, by file name extension before that and whenever the content says nothing (plain text,
 * CSV, unknown formats). Recipients see the detected type, not what the sender's name suggests.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileTypeFromStream } from 'file-type';

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

const BY_EXTENSION: Record<string, string> = {
  txt: 'text/plain', text: 'text/plain', md: 'text/markdown', csv: 'text/csv', tsv: 'text/tab-separated-values',
  html: 'text/html', htm: 'text/html', xml: 'application/xml', json: 'application/json', ics: 'text/calendar',
  vcf: 'text/vcard', rtf: 'application/rtf', log: 'text/plain',
  pdf: 'application/pdf', doc: 'application/msword', xls: 'application/vnd.ms-excel', ppt: 'application/vnd.ms-powerpoint',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text', ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp',
  svg: 'image/svg+xml', tif: 'image/tiff', tiff: 'image/tiff', heic: 'image/heic', avif: 'image/avif', ico: 'image/x-icon',
  wav: 'audio/wav', mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/opus', flac: 'audio/flac',
  m4a: 'audio/mp4', aac: 'audio/aac', amr: 'audio/amr', mid: 'audio/midi', midi: 'audio/midi',
  mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mkv: 'video/x-matroska',
  avi: 'video/x-msvideo', ogv: 'video/ogg', '3gp': 'video/3gpp', mpg: 'video/mpeg', mpeg: 'video/mpeg',
  zip: 'application/zip', gz: 'application/gzip', tgz: 'application/gzip', tar: 'application/x-tar',
  '7z': 'application/x-7z-compressed', rar: 'application/vnd.rar',
};

/** The type a name suggests; application/octet-stream when it suggests nothing. */
export function mediaTypeFromName(name: string): string {
  const ext = path.extname(name).slice(1).toLowerCase();
  return BY_EXTENSION[ext] ?? DEFAULT_MEDIA_TYPE;
}

/**
 * The type of stored content: its magic number if file-type knows it, else the name's. Reads only
 * as much of `source` as file-type needs (its sample, or a container's directory), never the whole
 * content, and destroys the stream after.
 */
export async function detectMediaType(source: Readable, name: string): Promise<string> {
  // An unreadable or odd content is still an attachment; fall back to the name.
  source.on('error', () => undefined);
  try {
    const found = await fileTypeFromStream(source);
    if (found) return found.mime;
  } catch {
    // as above
  } finally {
    source.destroy();
  }
  return mediaTypeFromName(name);
}
