import {
  checkOptionNames,
  ByteReader,
  collect,
  drain,
  entryContext,
  sliceRange,
  type DriverContext,
  ForwardingDriver,
  forwardedExpiry,
  type LayerOptions,
  LayerStorage,
  type ObjectInfo,
  type Storage,
  type StorageCapabilities,
  type StorageDriver,
  StorageConfigError,
  type StorageError,
  StorageIntegrityError,
  StorageUnsupportedError,
  type StoredEntry,
  type StoredStream,
  type WriteRequest,
  isStorageError,
  orUndefined,
  readEntry,
  stackOptions,
  forwardedValueType
} from "@pepperpy/storage-core";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  CHUNK_LOG2,
  FIXED_HEADER_LENGTH,
  MAGIC,
  type ScryptParams,
  MAX_HEADER_LENGTH,
  TAG_LENGTH,
  decodeHeader,
  encodeHeader,
  hasMagic,
  headerLength,
  plaintextSize,
} from "./format.js";
import { type KeyMaterial, KeyRing, objectKey } from "./keyring.js";
import { type OpenObject, authFailed, openRecord, sealRecord } from "./record.js";

/** Options of {@link EncryptedStorage}. */
export interface EncryptedStorageOptions extends LayerOptions {
  /** One key, id `"default"`: a passphrase (stretched with scrypt) or 32 random bytes. */
  key?: KeyMaterial | undefined;
  /** Several keys by id, for rotation: new writes use `activeKeyId`, reads use the id in each object's header. */
  keys?: Record<string, KeyMaterial> | undefined;
  /** The id of `keys` new writes use (optional when `keys` has one entry). */
  activeKeyId?: string | undefined;
  /**
   * scrypt parameter sets a read accepts besides the one this release writes (N = 2^17,
   * r = 8, p = 1). A header naming any other set is refused with `StorageIntegrityError`
   * before any key derivation, so a planted object cannot make each read spend up to 256 MiB
   * and seconds of CPU. Only for data written by other tools with other parameters; each
   * set must stay within logN 10..20, r 1..32, p 1..4 and 256 MiB.
   */
  acceptScrypt?: readonly ScryptParams[] | undefined;
  /**
   * Return objects that are not encrypted (no header) as they are, instead of failing with
   * `StorageIntegrityError`. For migrating existing data; anyone who can write the backend
   * can then substitute values, so leave it off once `reencrypt()` has run.
   */
  allowPlaintext?: boolean | undefined;
}

/** What {@link EncryptedStorage.reencrypt} did. */
export interface ReencryptResult {
  /** Objects looked at. */
  scanned: number;
  /** Objects rewritten under the active key (plaintext ones included when `allowPlaintext`). */
  reencrypted: number;
  /** Objects already under the active key, left alone. */
  upToDate: number;
  /** Objects that could not be rewritten (unreadable, changed meanwhile, …), with the error. */
  failed: { key: string; error: StorageError }[];
  /**
   * Objects left alone on purpose, with the reason. Without conditional writes (only with
   * `allowUnconditional`): objects that changed between the read and the write, as far as a
   * second `stat` can tell.
   */
  skipped: { key: string; reason: string }[];
  /**
   * Whether every rewrite was a compare-and-swap (`ifMatch`), so that no concurrent write
   * could be reverted. `false` only when the caller allowed unconditional rewrites.
   */
  conditional: boolean;
}

/** Options of {@link EncryptedStorage.reencrypt}. */
export interface ReencryptOptions {
  signal?: AbortSignal | undefined;
  /**
   * Rewrite even though the stack has no conditional writes (S3 with `conditionalWrites:
   * false`, a composite). Each object is then checked again just before its rewrite, but a
   * write by someone else in between can still be reverted to the old value: use it only
   * while nothing else writes under the prefix. Without it, `reencrypt` refuses to start on
   * such a stack.
   */
  allowUnconditional?: boolean | undefined;
}

/** Whether two infos of one key describe the same stored version (etag, else size and time). */
function sameVersion(a: ObjectInfo, b: ObjectInfo): boolean {
  if (a.etag !== undefined || b.etag !== undefined) return a.etag === b.etag;
  return a.lastModified.getTime() === b.lastModified.getTime();
}

/** Whether two infos of one key describe the same stored bytes (size, then etag or time). */
function sameStored(a: ObjectInfo, b: ObjectInfo): boolean {
  return a.size === b.size && sameVersion(a, b);
}

/** Returned by a ranged read that saw the value change between its two inner reads. */
const CHANGED = Symbol("changed");

/** The records a ranged read opens, from the stored size (valid per `plaintextSize`). */
interface RecordSpan {
  /** Stored bytes of one full record. */
  record: number;
  /** Index of the last record of the value, and its stored length. */
  lastIndex: number;
  lastLength: number;
  /** First and last record to open. */
  first: number;
  last: number;
  /** Plaintext offset of the first record. */
  offset: number;
}

function recordSpan(storedSize: number, hLen: number, chunkSize: number, start: number, end: number | undefined): RecordSpan {
  const record = chunkSize + TAG_LENGTH;
  const n = storedSize - hLen;
  const lastIndex = Math.ceil(n / record) - 1;
  // A start past the end still opens the last record, so truncation is detected as before.
  const first = Math.min(Math.floor(start / chunkSize), lastIndex);
  const last = end === undefined ? lastIndex : Math.max(first, Math.min(Math.floor(end / chunkSize), lastIndex));
  return { record, lastIndex, lastLength: n - lastIndex * record, first, last, offset: first * chunkSize };
}

function relativeEnd(end: number | undefined, span: RecordSpan): number | undefined {
  return end === undefined ? undefined : end - span.offset;
}

/** The driver of {@link EncryptedStorage}. */
export class EncryptionDriver extends ForwardingDriver {
  readonly keyRing: KeyRing;
  readonly allowPlaintext: boolean;
  /** The expiry clock of the storage underneath: `copy` and `move` treat an expired source as missing. */
  private readonly now: () => number;

  constructor(inner: StorageDriver | Storage, keyRing: KeyRing, allowPlaintext: boolean) {
    super(inner, "crypto");
    this.now = stackOptions(this.inner).clock ?? Date.now;
    this.keyRing = keyRing;
    this.allowPlaintext = allowPlaintext;
  }

  override get capabilities(): StorageCapabilities {
    // Ranges are cut from decrypted whole records (only those covering the range are read), and a
    // copy must be re-encrypted (the key is authenticated).
    return { ...this.inner.capabilities, rangeRead: false, serverSideCopy: false };
  }

  /** A fresh header and object key for a write to `key`. */
  private async sealer(key: string): Promise<{ header: Buffer; objKey: Buffer; aad: Buffer }> {
    const wk = await this.keyRing.writeKey();
    const objectSalt = randomBytes(32);
    const header = encodeHeader({ chunkLog2: CHUNK_LOG2, kdf: wk.kdf, scrypt: wk.scrypt, keyId: wk.keyId, kdfSalt: wk.kdfSalt, objectSalt });
    return { header, objKey: objectKey(wk.master, objectSalt), aad: Buffer.concat([header, Buffer.from(key, "utf8")]) };
  }

  override async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const { header, objKey, aad } = await this.sealer(key);
    if (req.body instanceof Uint8Array) {
      const data = req.body;
      const chunk = 2 ** CHUNK_LOG2;
      const parts: Buffer[] = [header];
      const records = Math.max(1, Math.ceil(data.byteLength / chunk));
      for (let i = 0; i < records; i++) {
        sealRecord(objKey, aad, i, i === records - 1, data.subarray(i * chunk, Math.min(data.byteLength, (i + 1) * chunk)), parts);
      }
      const body = Buffer.concat(parts);
      // The layer made these bytes: they belong to the write (`owned`), nobody copies them again.
      const info = await super.write(key, { ...req, body, size: body.byteLength, owned: true }, ctx);
      return { ...info, size: data.byteLength };
    }
    const counter = { size: 0 };
    const info = await super.write(key, { ...req, body: this.sealStream(req.body, header, objKey, aad, counter), size: undefined }, ctx);
    return { ...info, size: counter.size };
  }

  /** Encrypts a stream record by record, holding one chunk back until it knows whether it is the last. */
  private async *sealStream(body: AsyncIterable<Uint8Array>, header: Buffer, objKey: Buffer, aad: Buffer, counter: { size: number }): AsyncGenerator<Buffer> {
    const chunk = 2 ** CHUNK_LOG2;
    const reader = new ByteReader(body);
    yield header;
    let index = 0;
    for (;;) {
      await reader.fill(chunk + 1);
      const final = reader.buffered <= chunk;
      const plain = reader.take(final ? reader.buffered : chunk);
      counter.size += plain.byteLength;
      const out: Buffer[] = [];
      sealRecord(objKey, aad, index++, final, plain, out);
      yield* out;
      if (final) return;
    }
  }

  /** Parses the header and derives the object key; fails before any decryption. */
  private async open(key: string, bytes: Buffer): Promise<OpenObject> {
    const header = decodeHeader(bytes);
    const master = await this.keyRing.readMaster(header);
    return { header, key: objectKey(master, header.objectSalt), aad: Buffer.concat([header.bytes, Buffer.from(key, "utf8")]) };
  }

  private notEncrypted(): StorageIntegrityError {
    return new StorageIntegrityError("Value is not encrypted (no header); set allowPlaintext to read values written without the layer");
  }

  override async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const entry = await super.read(key, entryContext(ctx));
    if (!entry) return undefined;
    const bytes = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    if (!hasMagic(bytes)) {
      if (this.allowPlaintext) return entry;
      throw this.notEncrypted();
    }
    const obj = await this.open(key, bytes);
    const hLen = obj.header.bytes.byteLength;
    const size = plaintextSize(bytes.byteLength, hLen, obj.header.chunkSize);
    if (size === undefined) throw authFailed();
    const record = obj.header.chunkSize + TAG_LENGTH;
    const parts: Buffer[] = [];
    let offset = hLen;
    for (let i = 0; offset < bytes.byteLength; i++) {
      const end = Math.min(bytes.byteLength, offset + record);
      parts.push(openRecord(obj, i, end === bytes.byteLength, bytes.subarray(offset, end)));
      offset = end;
    }
    // Nothing is returned unless every record, the last one included, verified.
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    return { info: { ...entry.info, size }, data };
  }

  override async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const start = range.start ?? 0;
    if (start > 0 && this.inner.capabilities.rangeRead) {
      // The header, then only the records covering the range. Should the value change
      // between the two reads (twice), one inner stream below cannot mix two versions.
      for (let attempt = 0; attempt < 2; attempt++) {
        const result = await this.readRecords(key, start, range.end, ctx);
        if (result !== CHANGED) return result;
      }
    }
    const opened = await super.readStream(key, {}, ctx);
    if (!opened) return undefined;
    const reader = new ByteReader(opened.stream);
    let obj: OpenObject;
    let size: number | undefined;
    let hLen: number;
    try {
      await reader.fill(FIXED_HEADER_LENGTH);
      if (!hasMagic(reader.peek(Math.min(MAGIC.length, reader.buffered)))) {
        if (!this.allowPlaintext) throw this.notEncrypted();
        return { info: opened.info, stream: Readable.from(sliceRange(drain(reader), range.start, range.end), { objectMode: false }) };
      }
      hLen = reader.buffered >= FIXED_HEADER_LENGTH ? headerLength(reader.peek(FIXED_HEADER_LENGTH)) : FIXED_HEADER_LENGTH;
      await reader.fill(hLen);
      obj = await this.open(key, reader.peek(Math.min(hLen, reader.buffered)));
      reader.take(hLen);
      size = plaintextSize(opened.info.size, hLen, obj.header.chunkSize);
      if (size === undefined) throw authFailed();
    } catch (error) {
      await reader.close();
      throw error;
    }
    if (start === 0) {
      const records = this.openStream(reader, obj);
      return { info: { ...opened.info, size }, stream: Readable.from(sliceRange(records, range.start, range.end), { objectMode: false }) };
    }
    // Skip the records before the range without decrypting them.
    const span = recordSpan(opened.info.size, hLen, obj.header.chunkSize, start, range.end);
    const records = this.openRecords(reader, obj, span, span.first * span.record);
    return { info: { ...opened.info, size }, stream: Readable.from(sliceRange(records, start - span.offset, relativeEnd(range.end, span)), { objectMode: false }) };
  }

  /**
   * A ranged read on a backend with ranged reads: the header (one small read), then only the
   * records covering the range (a second read). {@link CHANGED} when the value changed
   * between the two reads. Even unnoticed (no etag, same size and time), a change could not
   * mix versions: every object has its own key, so a record of another write fails its tag.
   */
  private async readRecords(key: string, start: number, end: number | undefined, ctx: DriverContext): Promise<StoredStream | undefined | typeof CHANGED> {
    const head = await super.readStream(key, { start: 0, end: MAX_HEADER_LENGTH - 1 }, ctx);
    if (!head) return undefined;
    const bytes = await collect(head.stream);
    if (!hasMagic(bytes)) {
      if (!this.allowPlaintext) throw this.notEncrypted();
      const plain = await super.readStream(key, { start, end }, ctx);
      if (!plain || !sameStored(head.info, plain.info)) {
        plain?.stream.destroy();
        return CHANGED;
      }
      return plain;
    }
    const obj = await this.open(key, bytes);
    const hLen = obj.header.bytes.byteLength;
    const size = plaintextSize(head.info.size, hLen, obj.header.chunkSize);
    if (size === undefined) throw authFailed();
    const span = recordSpan(head.info.size, hLen, obj.header.chunkSize, start, end);
    const from = hLen + span.first * span.record;
    const to = hLen + span.last * span.record + (span.last === span.lastIndex ? span.lastLength : span.record) - 1;
    const body = await super.readStream(key, { start: from, end: to }, ctx);
    if (!body || !sameStored(head.info, body.info)) {
      body?.stream.destroy();
      return CHANGED;
    }
    const records = this.openRecords(new ByteReader(body.stream), obj, span, 0);
    return { info: { ...body.info, size }, stream: Readable.from(sliceRange(records, start - span.offset, relativeEnd(end, span)), { objectMode: false }) };
  }

  /**
   * Skips `skip` bytes without decrypting them, then opens records `first..last` of `span`.
   * The record that is last by the stored size is opened as final and must end the
   * stream; every other one as not final. So a value cut at a record boundary fails (its
   * new last record was sealed "not final"), and a record is released only once verified.
   */
  private async *openRecords(reader: ByteReader, obj: OpenObject, span: RecordSpan, skip: number): AsyncGenerator<Buffer> {
    try {
      while (skip > 0) {
        if (reader.buffered === 0 && !(await reader.pull())) throw authFailed();
        // Whole chunks, no copy.
        const n = Math.min(skip, reader.buffered);
        reader.takeChunksKeeping(reader.buffered - n);
        skip -= n;
      }
      for (let index = span.first; index <= span.last; index++) {
        const final = index === span.lastIndex;
        const length = final ? span.lastLength : span.record;
        await reader.fill(final ? length + 1 : length);
        if (reader.buffered < length || (final && reader.buffered > length)) throw authFailed();
        const plain = openRecord(obj, index, final, reader.take(length));
        if (plain.byteLength > 0) yield plain;
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * Decrypts record by record. A record is released only after its tag verified, and a
   * record is final only when the stream ends right after it, so a cut at a record
   * boundary fails the last record's tag (its nonce says "not final").
   */
  private async *openStream(reader: ByteReader, obj: OpenObject): AsyncGenerator<Buffer> {
    const record = obj.header.chunkSize + TAG_LENGTH;
    try {
      for (let index = 0; ; index++) {
        await reader.fill(record + 1);
        const final = reader.buffered <= record;
        const plain = openRecord(obj, index, final, reader.take(final ? reader.buffered : record));
        if (plain.byteLength > 0) yield plain;
        if (final) return;
      }
    } finally {
      await reader.close();
    }
  }

  override async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const head = await super.readStream(key, { start: 0, end: MAX_HEADER_LENGTH - 1 }, ctx);
    if (!head) return undefined;
    const bytes = await collect(head.stream);
    // A plaintext object reports its own size; reading it is what allowPlaintext governs.
    if (!hasMagic(bytes)) return head.info;
    const header = decodeHeader(bytes);
    const size = plaintextSize(head.info.size, header.bytes.byteLength, header.chunkSize);
    if (size === undefined) throw authFailed();
    return { ...head.info, size };
  }

  /** Re-encrypts under the destination key: the storage key is authenticated, so raw bytes cannot be copied. */
  override async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    const source = await this.readStream(from, {}, ctx);
    if (!source) return false;
    // An expired source is missing, as the driver underneath treats it (honorsExpiry).
    const deadline = source.info.expiresAt;
    if (deadline !== undefined && deadline.getTime() <= this.now()) {
      source.stream.destroy();
      return false;
    }
    await this.write(
      to,
      {
        body: source.stream,
        valueType: source.info.valueType ?? "bytes",
        contentType: source.info.contentType,
        metadata: source.info.metadata,
        // The copy keeps the source's deadline, or none (not the inner default TTL).
        expiresAt: source.info.expiresAt?.getTime(),
        options: forwardedExpiry(null),
      },
      ctx,
    );
    return true;
  }

  override async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    if (!(await this.copy(from, to, ctx))) return false;
    await super.delete(from, ctx);
    return true;
  }

  /** Key id of an object's header, `null` for a plaintext object, `undefined` when missing. */
  async keyIdOf(key: string, ctx: DriverContext): Promise<string | null | undefined> {
    const head = await super.readStream(key, { start: 0, end: MAX_HEADER_LENGTH - 1 }, ctx);
    if (!head) return undefined;
    const bytes = await collect(head.stream);
    if (!hasMagic(bytes)) return null;
    return decodeHeader(bytes).keyId;
  }
}

/**
 * A layer that encrypts every value with AES-256-GCM before it reaches the wrapped storage.
 *
 * Each object gets its own key (HKDF of the master key with a random salt) and is sealed in
 * 64 KiB records whose nonces carry the record index and a final flag; the header and the
 * storage key are authenticated with every record. So tampering, truncation, reordering, a
 * wrong key and a ciphertext moved to another key all fail with `StorageIntegrityError`, and
 * no byte is released before its record verified, on `get` and on `getStream` alike.
 *
 * Content type and metadata are stored in the clear. `stat().size` is the plaintext size,
 * computed from the stored size and the header (not authenticated until read); list and
 * `iterate` entries report the stored size.
 *
 * @example
 * const storage = new EncryptedStorage({ backend, keys: { "2024": oldKey, "2025": newKey }, activeKeyId: "2025" });
 * await storage.reencrypt("users/");
 */
export class EncryptedStorage extends LayerStorage<EncryptionDriver> {
  constructor(options: EncryptedStorageOptions) {
    checkOptionNames(options, ["backend", "key", "keys", "activeKeyId", "allowPlaintext", "acceptScrypt"], "EncryptedStorage");
    if (!options || typeof options !== "object" || !options.backend) throw new StorageConfigError("EncryptedStorage needs { backend, key }");
    const ring = new KeyRing(options);
    super(new EncryptionDriver(options.backend, ring, options.allowPlaintext === true), options);
  }

  /** The key id new writes use. */
  get activeKeyId(): string {
    return this.driver.keyRing.activeKeyId;
  }

  /**
   * Rewrites every object under `prefix` that is not yet under the active key (and, with
   * `allowPlaintext`, every plaintext object), one at a time, each with `ifMatch` on the etag
   * it read: an object changed meanwhile is left alone and reported in `failed` (a
   * `StorageConflictError`), so a concurrent user write is never reverted.
   *
   * On a stack without conditional writes that guarantee does not exist, and `reencrypt`
   * rejects with `StorageUnsupportedError` before touching anything, unless
   * `allowUnconditional` is set (see {@link ReencryptOptions}).
   */
  async reencrypt(prefix = "", opts: ReencryptOptions = {}): Promise<ReencryptResult> {
    const conditional = this.capabilities.conditionalWrite;
    if (!conditional && opts.allowUnconditional !== true) {
      throw new StorageUnsupportedError(
        `reencrypt needs conditional writes, which ${this.backend.name} does not have: a rewrite could revert a concurrent write. ` +
          "Nothing was rewritten. Pass { allowUnconditional: true } to run anyway while nothing else writes under the prefix.",
        { operation: "reencrypt", key: prefix || undefined },
      );
    }
    const result: ReencryptResult = { scanned: 0, reencrypted: 0, upToDate: 0, failed: [], skipped: [], conditional };
    const ctx: DriverContext = { signal: opts.signal ?? new AbortController().signal, operation: "reencrypt" };
    for await (const { key } of this.backend.iterate(prefix, { signal: opts.signal })) {
      result.scanned++;
      try {
        const keyId = await this.driver.keyIdOf(key, ctx);
        if (keyId === undefined) continue;
        if (keyId === this.activeKeyId) {
          result.upToDate++;
          continue;
        }
        const entry = await readEntry(this, key, { signal: opts.signal }, "reencrypt");
        if (!conditional) {
          // The best check there is without ifMatch: the object as it is now, just before the write.
          const now = await orUndefined(this.backend.stat(key, { signal: opts.signal }));
          if (!now || !sameVersion(now, entry.info)) {
            result.skipped.push({ key, reason: "changed while being re-encrypted" });
            continue;
          }
        }
        await this.put(key, entry.data, {
          ...forwardedValueType(entry.info.valueType ?? "bytes"),
          contentType: entry.info.contentType,
          metadata: entry.info.metadata,
          // Re-encrypting keeps the value's deadline.
          ...forwardedExpiry(entry.info.expiresAt ?? null),
          ifMatch: conditional ? entry.info.etag : undefined,
          signal: opts.signal,
        });
        result.reencrypted++;
      } catch (error) {
        if (opts.signal?.aborted) throw error;
        result.failed.push({ key, error: isStorageError(error) ? error : new StorageIntegrityError(String(error), { cause: error, key }) });
      }
    }
    return result;
  }
}
