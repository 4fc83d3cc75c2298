import { createHash, randomBytes } from "node:crypto";
import { constants as C, promises as fsp, type BigIntStats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { ValueType } from "@pepperpy/storage-core";

/**
 * The metadata sidecar of one key (format version 1).
 *
 * Layout: the content of key `a/b/name` is the raw file `<base>/a/b/name`; its sidecar is
 * `<base>/a/b/.pepperpy-meta.name` (or `.pepperpy-meta#<sha256-hex of name>` when the
 * plain name would exceed the 255-byte file-name limit), a small JSON document:
 *
 * ```json
 * { "v": 1, "name": "name", "records": [
 *   { "ino": "1234", "size": 5, "mtime": "1714000000123456789", "etag": "\"…\"",
 *     "type": "text", "ct": "text/plain; charset=utf-8", "meta": { "owner": "ana" },
 *     "sha": "<sha-256 hex of the content>", "exp": 1714000600000 } ] }
 * ```
 *
 * A record describes one version of the content file by its identity (inode, size and
 * modification time in nanoseconds, all preserved by `rename`) and by its content (`sha`,
 * the SHA-256 of the bytes; `exp`, the expiry deadline in epoch ms, when it has one).
 * A record matches a content file when the identity is exactly the file's (the fast
 * path: no byte is read), or else when the size is the file's and the SHA-256 of the
 * file's bytes is `sha`: a copy of the data folder (`cp -a`, `cp -r`, `tar`, `rsync -a`)
 * gives every file a new inode and often new times, but the same bytes, so every value
 * keeps its type, content type and metadata; a file another program changed has other
 * bytes (or another size) and reads as a foreign file. Records written before `sha`
 * existed match by identity only. The sidecar is renamed
 * into place BEFORE the content, and keeps the two previous records, so whatever a crash
 * leaves, the content on disk matches one record (its metadata) or none (a file written
 * by another tool, read as a foreign file). A record that matches nothing is stale and
 * ignored; a sidecar whose content file is gone is an orphan, removed by the sweep.
 */
export interface SidecarRecord {
  /** Inode number of the content file (decimal). */
  ino: string;
  /** Size in bytes. */
  size: number;
  /** Modification time in nanoseconds since the epoch (decimal). */
  mtime: string;
  /** The etag this library gave the version. */
  etag: string;
  /** How `get` decodes it. */
  type: ValueType;
  /** Content type. */
  ct: string;
  /** User metadata. */
  meta: Record<string, string>;
  /** SHA-256 (hex) of the content: matches the record to a copy of the file (new inode, new times). */
  sha?: string | undefined;
  /** Expiry deadline in epoch ms (SPEC §11); absent: never expires. */
  exp?: number | undefined;
}

/** Prefix of every sidecar file name. */
export const SIDECAR_PREFIX = ".pepperpy-meta";
/** Prefix of every temp file name. */
export const TEMP_PREFIX = ".pepperpy-tmp.";
/** Records kept per sidecar: the newest and the two before it. */
const KEEP_RECORDS = 3;
/** A sidecar this large was not written by this library (3 records of at most ~2.5 KiB); it is ignored. */
const SIDECAR_READ_CHUNK = 64 * 1024;
const NAME_MAX = 255;

/** `plain` when it fits the 255-byte file-name limit, else `hashedPrefix` + SHA-256 of `name`. */
export function hashedName(plain: string, hashedPrefix: string, name: string): string {
  if (plain.length <= 80 || Buffer.byteLength(plain) <= NAME_MAX) return plain;
  return `${hashedPrefix}${createHash("sha256").update(name).digest("hex")}`;
}

/** File name of the sidecar of content file `name`. */
export function sidecarName(name: string): string {
  return hashedName(`${SIDECAR_PREFIX}.${name}`, `${SIDECAR_PREFIX}#`, name);
}

/** The content file name a plain sidecar name belongs to (`undefined` for hashed names). */
export function sidecarOwner(sidecar: string): string | undefined {
  return sidecar.startsWith(`${SIDECAR_PREFIX}.`) ? sidecar.slice(SIDECAR_PREFIX.length + 1) : undefined;
}

const processNonce = randomBytes(6).toString("base64url");
let tempCounter = 0;
let etagCounter = 0;

/** A unique temp file name: reserved prefix, pid, a per-process random nonce and a counter. */
export function tempName(): string {
  return `${TEMP_PREFIX}${process.pid.toString(36)}.${processNonce}.${(++tempCounter).toString(36)}`;
}

/** A new etag, unique across processes (random per process, then a counter). */
export function newEtag(): string {
  return `"${processNonce}${(++etagCounter).toString(36)}"`;
}

/** Etag of a file this library has no record of: its identity. */
export function foreignEtag(st: BigIntStats): string {
  return `"f${st.ino.toString(36)}.${st.size.toString(36)}.${st.mtimeNs.toString(36)}"`;
}

/** The record among `records` that describes the content file `st` by its identity, if any. */
export function matchRecord(records: readonly SidecarRecord[], st: BigIntStats): SidecarRecord | undefined {
  const ino = st.ino.toString();
  const mtime = st.mtimeNs.toString();
  const size = Number(st.size);
  // Newest first: if an inode number was reused, the newest matching record is the truth.
  return records.find((r) => r.ino === ino && r.size === size && r.mtime === mtime);
}

/** Records among `records` that may describe `st` by content: same size, with a SHA-256 (newest first). */
export function contentCandidates(records: readonly SidecarRecord[], st: BigIntStats): SidecarRecord[] {
  const size = Number(st.size);
  return records.filter((r) => r.size === size && r.sha !== undefined);
}

/** `record` re-identified as the content file `st` (same bytes, new inode or times: a copy). */
export function adoptRecord(record: SidecarRecord, st: BigIntStats): SidecarRecord {
  return { ...record, ino: st.ino.toString(), mtime: st.mtimeNs.toString() };
}

/** A record for the content file `st`. */
export function makeRecord(
  st: BigIntStats,
  etag: string,
  info: { valueType: ValueType; contentType: string; metadata: Record<string, string>; sha?: string | undefined; expiresAt?: number | undefined },
): SidecarRecord {
  const record: SidecarRecord = {
    ino: st.ino.toString(),
    size: Number(st.size),
    mtime: st.mtimeNs.toString(),
    etag,
    type: info.valueType,
    ct: info.contentType,
    meta: info.metadata,
  };
  if (info.sha !== undefined) record.sha = info.sha;
  if (info.expiresAt !== undefined) record.exp = info.expiresAt;
  return record;
}

function isRecord(r: unknown): r is SidecarRecord {
  if (typeof r !== "object" || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    typeof o.ino === "string" &&
    typeof o.size === "number" &&
    typeof o.mtime === "string" &&
    typeof o.etag === "string" &&
    (o.type === "text" || o.type === "bytes" || o.type === "json") &&
    typeof o.ct === "string" &&
    typeof o.meta === "object" &&
    o.meta !== null &&
    Object.values(o.meta).every((v) => typeof v === "string") &&
    (o.sha === undefined || (typeof o.sha === "string" && /^[0-9a-f]{64}$/.test(o.sha))) &&
    (o.exp === undefined || (typeof o.exp === "number" && Number.isFinite(o.exp)))
  );
}

/** Parses a sidecar; anything malformed (torn by a crash in fast mode, foreign) reads as no records. */
export function parseSidecar(text: string, name: string): SidecarRecord[] {
  try {
    const doc = JSON.parse(text) as { v?: unknown; name?: unknown; records?: unknown };
    if (doc.v !== 1 || doc.name !== name || !Array.isArray(doc.records)) return [];
    return doc.records.filter(isRecord);
  } catch {
    return [];
  }
}

/** The records of a new sidecar: `record` first, then the newest earlier records. */
export function sidecarRecords(record: SidecarRecord, previous: readonly SidecarRecord[]): SidecarRecord[] {
  return [record, ...previous.filter((r) => r.etag !== record.etag)].slice(0, KEEP_RECORDS);
}

/**
 * Serialises a sidecar holding `records` (newest first; see {@link sidecarRecords}). `by`
 * names the writing process (`host:pid`): the sidecar temp doubles as the key's lock (a
 * hard link, see key-lock.ts), and a stale check reads its holder there.
 */
export function serializeSidecar(name: string, records: readonly SidecarRecord[], by?: string): Buffer {
  return Buffer.from(JSON.stringify(by === undefined ? { v: 1, name, records } : { v: 1, name, records, by }), "utf8");
}

/** Reads the records of the sidecar of `name` in directory `dirPath`; missing → `[]`. */
export async function readSidecar(dirPath: string, name: string): Promise<SidecarRecord[]> {
  let h: FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted under the sidecar's name must not hang the read.
    h = await fsp.open(`${dirPath}/${sidecarName(name)}`, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR") return [];
    throw error;
  }
  try {
    // One read for a normal sidecar (a few hundred bytes); no fstat needed.
    const buf = Buffer.allocUnsafe(SIDECAR_READ_CHUNK);
    let length = 0;
    for (;;) {
      const { bytesRead } = await h.read(buf, length, buf.byteLength - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.byteLength) return []; // larger than any sidecar this library writes
    }
    return parseSidecar(buf.toString("utf8", 0, length), name);
  } catch {
    return []; // EISDIR, EAGAIN (a FIFO): not a sidecar
  } finally {
    await h.close();
  }
}
