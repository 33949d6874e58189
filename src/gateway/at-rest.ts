/**
 * At-rest encryption of stored objects with the space's data key, for storage that does not encrypt
 * by itself. Streaming authenticated encryption (AES-256-GCM over fixed-size chunks, STREAM
 * construction), so an object of any size is encrypted and decrypted with constant memory, and any
 * byte range can be decrypted by reading only the chunks that cover it (restic reads parts of packs).
 *
 * File format, version 1:
 *
 *   header   44 bytes
 *     0..6    magic, ASCII "TBGW-AR"
 *     7       format version (1)
 *     8..11   plaintext chunk size C, uint32 big-endian (1 KiB..16 MiB; 256 KiB when we write)
 *     12..43  salt, 32 random bytes drawn for this object
 *   chunks   ceil(P / C) chunks for a P-byte plaintext (one empty chunk when P = 0); every chunk but
 *            the last holds exactly C plaintext bytes. Each chunk is AES-256-GCM ciphertext followed
 *            by its 16-byte tag.
 *
 *   object key  HKDF-SHA256(ikm = data key, salt = salt, info = "tenantbackup.io/gateway/at-rest/v1")
 *               — a fresh key per object, so nonces never repeat under one key.
 *   nonce       7 zero bytes || chunk index (uint32 BE) || 0x01 for the last chunk, else 0x00.
 *               The index stops reordering; the last-chunk flag stops truncation at a chunk
 *               boundary and extension (Hoang, Reyhanitabar, Rogaway, Vizár: "STREAM").
 *   AAD         the header || len-prefixed space uid || len-prefixed object name ("data/<id>",
 *               "config", ...): an object cannot be moved to another space or swapped for another
 *               object of the space without failing authentication, and the header is authenticated.
 *
 * Sizes are a pure function of each other, so listing and quota use plaintext sizes (as restic
 * expects) without reading the file: encrypted = 44 + P + 16 · max(1, ceil(P / C)).
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export const AT_REST_MAGIC = Buffer.from('TBGW-AR', 'ascii');
export const AT_REST_VERSION = 1;
export const AT_REST_HEADER_BYTES = 44;
export const AT_REST_TAG_BYTES = 16;
/**
 * Chunk size this gateway writes: large enough that the per-chunk cost (a cipher per chunk) is
 * small next to the bulk work, small enough that a range read decrypts little extra (restic reads
 * blobs of typically 0.5–8 MiB out of packs).
 */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
export const MIN_CHUNK_BYTES = 1024;
/** Bound on a chunk size read from a (possibly tampered) header, so we never buffer gigabytes. */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

const SALT_BYTES = 32;
const KEY_BYTES = 32;
const HKDF_INFO = Buffer.from('tenantbackup.io/gateway/at-rest/v1', 'utf8');
const CIPHER = 'aes-256-gcm';

/** What an object's encryption is bound to. */
export interface AtRestContext {
  dataKey: Uint8Array;
  /** metadata.uid of the BackupSpace. */
  spaceUid: string;
  /** The object's name inside its repository: "config", "data/<id>", "snapshots/<id>", ... */
  objectName: string;
}

export interface AtRestHeader {
  chunkBytes: number;
  salt: Buffer;
  /** The 44 raw header bytes, authenticated as part of every chunk's AAD. */
  raw: Buffer;
}

/** Authentication failed or the file is malformed: the object was altered, truncated or is not ours. */
export class AtRestIntegrityError extends Error {
  override readonly name = 'AtRestIntegrityError';
}

/** True when `bytes` begin with the at-rest magic and version (i.e. the file is in this format). */
export function hasAtRestMagic(bytes: Uint8Array): boolean {
  return (
    bytes.length >= AT_REST_MAGIC.length + 1 &&
    AT_REST_MAGIC.equals(bytes.subarray(0, AT_REST_MAGIC.length)) &&
    bytes[AT_REST_MAGIC.length] === AT_REST_VERSION
  );
}

/** Parses the header; throws AtRestIntegrityError if it is not a valid version-1 header. */
export function parseHeader(bytes: Uint8Array): AtRestHeader {
  if (bytes.length < AT_REST_HEADER_BYTES || !hasAtRestMagic(bytes)) {
    throw new AtRestIntegrityError('not an at-rest encrypted object (bad magic or version)');
  }
  const raw = Buffer.from(bytes.subarray(0, AT_REST_HEADER_BYTES));
  const chunkBytes = raw.readUInt32BE(8);
  if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) {
    throw new AtRestIntegrityError(`at-rest header has an out-of-range chunk size ${chunkBytes}`);
  }
  return { chunkBytes, salt: raw.subarray(12, 12 + SALT_BYTES), raw };
}

function newHeader(chunkBytes: number): AtRestHeader {
  if (!Number.isInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) {
    throw new RangeError(`chunk size must be an integer from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}`);
  }
  const raw = Buffer.alloc(AT_REST_HEADER_BYTES);
  AT_REST_MAGIC.copy(raw, 0);
  raw[AT_REST_MAGIC.length] = AT_REST_VERSION;
  raw.writeUInt32BE(chunkBytes, 8);
  randomBytes(SALT_BYTES).copy(raw, 12);
  return { chunkBytes, salt: raw.subarray(12, 12 + SALT_BYTES), raw };
}

function chunkCount(plaintextBytes: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(plaintextBytes / chunkBytes));
}

/** Size on disk of a `plaintextBytes`-byte object. */
export function encryptedSize(plaintextBytes: number, chunkBytes = DEFAULT_CHUNK_BYTES): number {
  return AT_REST_HEADER_BYTES + plaintextBytes + AT_REST_TAG_BYTES * chunkCount(plaintextBytes, chunkBytes);
}

/** Plaintext size of an encrypted file of `fileBytes` bytes, or null when no plaintext has that size. */
export function plaintextSize(fileBytes: number, chunkBytes: number): number | null {
  const body = fileBytes - AT_REST_HEADER_BYTES;
  if (body < AT_REST_TAG_BYTES) return null;
  const sealedChunk = chunkBytes + AT_REST_TAG_BYTES;
  const fullChunks = Math.floor(body / sealedChunk);
  const rest = body % sealedChunk;
  if (rest === 0) return fullChunks * chunkBytes;
  if (rest < AT_REST_TAG_BYTES) return null;
  return fullChunks * chunkBytes + rest - AT_REST_TAG_BYTES;
}

/** The object's key, imported once: creating a cipher from a KeyObject skips re-importing raw key bytes per chunk. */
function deriveObjectKey(dataKey: Uint8Array, salt: Uint8Array): KeyObject {
  if (dataKey.byteLength !== KEY_BYTES) throw new RangeError(`data key must be ${KEY_BYTES} bytes`);
  const raw = Buffer.from(hkdfSync('sha256', dataKey, salt, HKDF_INFO, KEY_BYTES));
  const key = createSecretKey(raw);
  raw.fill(0);
  return key;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

function associatedData(header: AtRestHeader, context: AtRestContext): Buffer {
  return Buffer.concat([header.raw, lengthPrefixed(context.spaceUid), lengthPrefixed(context.objectName)]);
}

function nonceFor(index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Per-object cipher state shared by the encrypting and decrypting streams. */
class ChunkCipher {
  readonly #key: KeyObject;
  readonly #aad: Buffer;

  constructor(header: AtRestHeader, context: AtRestContext) {
    this.#key = deriveObjectKey(context.dataKey, header.salt);
    this.#aad = associatedData(header, context);
  }

  seal(index: number, last: boolean, plaintext: Uint8Array): Buffer[] {
    if (index > 0xffff_ffff) throw new RangeError('object too large for the at-rest format');
    const cipher = createCipheriv(CIPHER, this.#key, nonceFor(index, last), { authTagLength: AT_REST_TAG_BYTES });
    cipher.setAAD(this.#aad);
    const body = cipher.update(plaintext);
    const tail = cipher.final();
    return tail.length > 0 ? [body, tail, cipher.getAuthTag()] : [body, cipher.getAuthTag()];
  }

  open(index: number, last: boolean, sealed: Uint8Array): Buffer {
    if (sealed.length < AT_REST_TAG_BYTES) throw new AtRestIntegrityError(`chunk ${index} is truncated`);
    const split = sealed.length - AT_REST_TAG_BYTES;
    const decipher = createDecipheriv(CIPHER, this.#key, nonceFor(index, last), { authTagLength: AT_REST_TAG_BYTES });
    decipher.setAAD(this.#aad);
    decipher.setAuthTag(sealed.subarray(split));
    const body = decipher.update(sealed.subarray(0, split));
    try {
      const tail = decipher.final();
      return tail.length > 0 ? Buffer.concat([body, tail]) : body;
    } catch {
      throw new AtRestIntegrityError(`chunk ${index} failed authentication: the object was altered, truncated or reordered`);
    }
  }
}

/**
 * Opens an object's sealed chunks one at a time, for a reader that does its own reads (the export
 * reads several chunks per system call into buffers it reuses). `sealed` is chunk `index` with its
 * tag; `last` says whether it is the object's final chunk. Throws AtRestIntegrityError.
 */
export function createChunkOpener(context: AtRestContext, header: AtRestHeader): (index: number, last: boolean, sealed: Uint8Array) => Buffer {
  const cipher = new ChunkCipher(header, context);
  return (index, last, sealed) => cipher.open(index, last, sealed);
}

/**
 * Encrypts a plaintext, given piece by piece, into the at-rest format. Holds at most one chunk of
 * plaintext: a full chunk is sealed as "not last" only once the next byte arrives, because only then
 * do we know that it is not the last one. A plain object rather than a stream, so that the upload
 * path can hash, encrypt and write in one step without extra stream hops.
 */
export class StreamEncryptor {
  readonly #header: AtRestHeader;
  readonly #cipher: ChunkCipher;
  readonly #chunk: Buffer;
  #filled = 0;
  #index = 0;
  #headerSent = false;
  #finished = false;

  constructor(context: AtRestContext, chunkBytes = DEFAULT_CHUNK_BYTES) {
    this.#header = newHeader(chunkBytes);
    this.#cipher = new ChunkCipher(this.#header, context);
    this.#chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** Encrypted bytes that `data` completes (often none). */
  update(data: Uint8Array): Buffer[] {
    if (this.#finished) throw new Error('encryptor already finished');
    const out: Buffer[] = [];
    const size = this.#chunk.length;
    for (let offset = 0; offset < data.length; ) {
      if (this.#filled === size) this.#seal(out, false);
      const copied = Math.min(data.length - offset, size - this.#filled);
      this.#chunk.set(data.subarray(offset, offset + copied), this.#filled);
      this.#filled += copied;
      offset += copied;
    }
    return out;
  }

  /** The remaining encrypted bytes: the final chunk (empty plaintext gives one empty final chunk). */
  final(): Buffer[] {
    if (this.#finished) throw new Error('encryptor already finished');
    const out: Buffer[] = [];
    this.#seal(out, true);
    this.#finished = true;
    return out;
  }

  #seal(out: Buffer[], last: boolean): void {
    if (!this.#headerSent) {
      out.push(this.#header.raw);
      this.#headerSent = true;
    }
    out.push(...this.#cipher.seal(this.#index, last, this.#chunk.subarray(0, this.#filled)));
    this.#index += 1;
    this.#filled = 0;
  }
}

/** StreamEncryptor as a Transform stream. */
export function createEncryptStream(context: AtRestContext, chunkBytes = DEFAULT_CHUNK_BYTES): Transform {
  const encryptor = new StreamEncryptor(context, chunkBytes);
  const pushAll = (stream: Transform, parts: Buffer[]): void => {
    for (const part of parts) stream.push(part);
  };
  return new Transform({
    transform(data: Buffer, _encoding, callback: TransformCallback) {
      try {
        pushAll(this, encryptor.update(data));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        pushAll(this, encryptor.final());
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/** Which bytes of an encrypted file to read to return plaintext bytes [start, end]. */
export interface RangePlan {
  /** First and last byte offsets (inclusive) to read from the file. */
  fileStart: number;
  fileEnd: number;
  firstChunk: number;
  lastChunk: number;
  /** Index of the object's final chunk (authenticated with the last-chunk flag). */
  finalChunk: number;
  /** Plaintext bytes to drop from the first decrypted chunk. */
  skip: number;
  /** Plaintext bytes to deliver in total. */
  length: number;
}

/**
 * Plans the read of plaintext bytes [start, end] (inclusive; the caller clamps them to the plaintext
 * size) of an encrypted file of `fileBytes` bytes. A zero-byte object (any range) is read as its single
 * empty chunk, so that reading it still authenticates it.
 */
export function planRange(header: AtRestHeader, fileBytes: number, start: number, end: number): RangePlan {
  const size = plaintextSize(fileBytes, header.chunkBytes);
  if (size === null) throw new AtRestIntegrityError('encrypted object has an impossible size (truncated?)');
  const c = header.chunkBytes;
  const finalChunk = chunkCount(size, c) - 1;
  if (size === 0) {
    return { fileStart: AT_REST_HEADER_BYTES, fileEnd: fileBytes - 1, firstChunk: finalChunk, lastChunk: finalChunk, finalChunk, skip: 0, length: 0 };
  }
  if (start < 0 || end >= size) throw new RangeError(`range ${start}-${end} outside a ${size}-byte object`);
  const firstChunk = Math.floor(start / c);
  const lastChunk = Math.floor(end / c);
  const sealedChunk = c + AT_REST_TAG_BYTES;
  const fileStart = AT_REST_HEADER_BYTES + firstChunk * sealedChunk;
  const fileEnd = Math.min(fileBytes, AT_REST_HEADER_BYTES + (lastChunk + 1) * sealedChunk) - 1;
  return { fileStart, fileEnd, firstChunk, lastChunk, finalChunk, skip: start - firstChunk * c, length: end - start + 1 };
}

/**
 * Decrypts the file bytes [plan.fileStart, plan.fileEnd] and emits exactly plan.length plaintext
 * bytes. Fails (stream error) on any authentication failure or if the input ends early, so a reader
 * never receives unauthenticated bytes beyond the chunk being checked.
 */
export function createDecryptStream(context: AtRestContext, header: AtRestHeader, plan: RangePlan): Transform {
  const cipher = new ChunkCipher(header, context);
  const sealedChunk = header.chunkBytes + AT_REST_TAG_BYTES;
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = plan.firstChunk;
  let skip = plan.skip;
  let remaining = plan.length;
  const expectedInput = plan.fileEnd - plan.fileStart + 1;
  let received = 0;

  const take = (bytes: number): Buffer => {
    const all = Buffer.concat(pending, pendingBytes);
    pending.length = 0;
    const head = all.subarray(0, bytes);
    const rest = all.subarray(bytes);
    if (rest.length > 0) pending.push(rest);
    pendingBytes = rest.length;
    return head;
  };

  const deliver = (stream: Transform, plaintext: Buffer): void => {
    let part = plaintext;
    if (skip > 0) {
      part = part.subarray(skip);
      skip = 0;
    }
    if (part.length > remaining) part = part.subarray(0, remaining);
    remaining -= part.length;
    if (part.length > 0) stream.push(part);
  };

  const openChunk = (stream: Transform, sealed: Buffer): void => {
    deliver(stream, cipher.open(index, index === plan.finalChunk, sealed));
    index += 1;
  };

  return new Transform({
    transform(data: Buffer, _encoding, callback: TransformCallback) {
      try {
        received += data.length;
        if (received > expectedInput) throw new AtRestIntegrityError('more encrypted bytes than the range plan expects');
        pending.push(data);
        pendingBytes += data.length;
        // The final chunk may be short, so it is only opened in flush, when the input has ended.
        while (pendingBytes >= sealedChunk && index < plan.finalChunk && index <= plan.lastChunk) {
          openChunk(this, take(sealedChunk));
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        if (received !== expectedInput) throw new AtRestIntegrityError('encrypted object ended early (truncated)');
        if (index <= plan.lastChunk) {
          if (index !== plan.lastChunk) throw new AtRestIntegrityError('encrypted object ended early (truncated)');
          openChunk(this, take(pendingBytes));
        }
        if (remaining !== 0 || pendingBytes !== 0) throw new AtRestIntegrityError('encrypted object has trailing or missing bytes');
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
