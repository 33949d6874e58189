/**
 * POSIX tar (ustar, with a pax extended header only for a path too long for ustar's name/prefix
 * split) as pure functions of the entry, so that the same entries always give the same bytes:
 * uid/gid 0, no user or group names, the export's own mtime, fixed modes (0644 files, 0755
 * directories). Sizes above ustar's 8 GiB - 1 are refused instead of switching formats silently;
 * restic pack files are at most a few hundred MiB.
 */
export const BLOCK = 512;
const MAX_USTAR_SIZE = 0o77777777777; // 11 octal digits
const NAME_FIELD = 100;
const PREFIX_FIELD = 155;

export interface TarEntry {
  /** Path inside the archive, "/"-separated, ASCII, no leading "/"; directories without trailing "/". */
  path: string;
  type: 'file' | 'directory';
  /** Content length (0 for directories). */
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
}

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as POSIX wants for numeric fields.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function writeField(header: Buffer, offset: number, width: number, text: string): void {
  const bytes = Buffer.from(text, 'ascii');
  if (bytes.length > width) throw new RangeError(`tar field of ${width} bytes cannot hold ${bytes.length}`);
  bytes.copy(header, offset);
}

/** Splits a path into ustar's prefix and name fields; null when no split fits. */
export function splitUstarPath(path: string): { prefix: string; name: string } | null {
  if (path.length <= NAME_FIELD) return { prefix: '', name: path };
  for (let at = path.indexOf('/'); at !== -1; at = path.indexOf('/', at + 1)) {
    const prefix = path.slice(0, at);
    const name = path.slice(at + 1);
    if (prefix.length <= PREFIX_FIELD && name.length <= NAME_FIELD && name.length > 0) return { prefix, name };
  }
  return null;
}

function ustarHeader(fields: { prefix: string; name: string; mode: number; size: number; mtime: number; typeflag: string }): Buffer {
  if (fields.size > MAX_USTAR_SIZE) throw new RangeError(`tar entry ${fields.name} is ${fields.size} bytes, more than ustar's ${MAX_USTAR_SIZE}`);
  const header = Buffer.alloc(BLOCK);
  writeField(header, 0, 100, fields.name);
  writeField(header, 100, 8, octal(fields.mode, 8));
  writeField(header, 108, 8, octal(0, 8));
  writeField(header, 116, 8, octal(0, 8));
  writeField(header, 124, 12, octal(fields.size, 12));
  writeField(header, 136, 12, octal(fields.mtime, 12));
  header.fill(0x20, 148, 156); // checksum counted as spaces
  writeField(header, 156, 1, fields.typeflag);
  writeField(header, 257, 6, 'ustar\0');
  writeField(header, 263, 2, '00');
  writeField(header, 345, 155, fields.prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeField(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** A pax record "<length> path=<value>\n", where the length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length += 1;
  return `${length}${body}`;
}

/** Zero bytes that bring `size` up to a whole number of blocks. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The header block(s) that precede an entry's content. */
export function entryHeader(entry: TarEntry): Buffer {
  if (!/^[\x21-\x7e]+$/.test(entry.path) || entry.path.startsWith('/')) throw new RangeError(`tar path must be printable ASCII without spaces and relative: ${JSON.stringify(entry.path)}`);
  const isDirectory = entry.type === 'directory';
  const path = isDirectory ? `${entry.path}/` : entry.path;
  const fields = { mode: isDirectory ? 0o755 : 0o644, size: isDirectory ? 0 : entry.size, mtime: entry.mtime, typeflag: isDirectory ? '5' : '0' };
  const split = splitUstarPath(path);
  if (split !== null) return ustarHeader({ ...fields, ...split });
  const pax = Buffer.from(paxRecord('path', path), 'ascii');
  const paxHeader = ustarHeader({ prefix: '', name: 'PaxHeader', mode: 0o644, size: pax.length, mtime: entry.mtime, typeflag: 'x' });
  const truncated = ustarHeader({ ...fields, prefix: '', name: path.slice(-NAME_FIELD).replace(/^\/+/, '') });
  return Buffer.concat([paxHeader, pax, padding(pax.length), truncated]);
}

/** A whole entry with its content (for small tag files). */
export function smallEntry(path: string, content: Buffer, mtime: number): Buffer {
  return Buffer.concat([entryHeader({ path, type: 'file', size: content.length, mtime }), content, padding(content.length)]);
}

/** End of archive: two zero blocks. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}
