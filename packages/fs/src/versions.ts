import type { BigIntStats } from "node:fs";
import { promises as fsp } from "node:fs";
import { contentTypeFromKey, inferValueType, type ObjectInfo, type ValueType } from "@pepperpy/storage-core";
import type { DirRef } from "./contained-dir.js";
import { hashFile } from "./fd-io.js";
import { adoptRecord, contentCandidates, foreignEtag, matchRecord, readSidecar, type SidecarRecord } from "./sidecar.js";

/**
 * Versions of content files: the modification-time stamps that make every version's
 * identity unique (and mark plain writes), the per-driver cache of sidecar records by
 * identity, and how a content file finds its record (identity first, then content hash).
 */

/** Most keys whose sidecar records a driver keeps in memory (a few hundred bytes each). */
const RECORD_CACHE_MAX = 16_384;

/**
 * A key's sidecar records as they were when its content file had this identity. Valid
 * for as long as the content file still has exactly this identity: every write makes a
 * new file whose modification time this library stamps with a value unique to the
 * microsecond (see {@link uniqueStampMicros}), so a new version never has an old
 * version's identity even when the file system reuses the inode number at once.
 */
interface CachedRecords {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  records: SidecarRecord[];
}

let lastStampMicros = 0;
/**
 * Stamps of plain writes (bytes without a sidecar, see {@link writeTransaction}) are the
 * microseconds congruent to {@link PLAIN_MARK} modulo {@link PLAIN_MARK_MOD}; every other
 * write's stamp avoids that residue. A file without a record whose mtime carries the mark
 * was written by this library as bytes (see {@link isPlainMarked}).
 */
const PLAIN_MARK_MOD = 8;
const PLAIN_MARK = 5;

/**
 * A modification time for a new version, in microseconds: the wall clock to the
 * microsecond, strictly increasing within the process. The coarse clock the kernel stamps files with
 * ticks every few milliseconds, so two quick writes of one key that reuse a freed inode
 * and have the same size would otherwise share their identity (inode, size, mtime).
 * `plain`: the stamp carries the mark of a plain write; otherwise it never does.
 */
export function uniqueStampMicros(plain: boolean): number {
  let micros = Math.max(Math.round((performance.timeOrigin + performance.now()) * 1000), lastStampMicros + 1);
  const r = micros % PLAIN_MARK_MOD;
  if (plain) micros += (PLAIN_MARK - r + PLAIN_MARK_MOD) % PLAIN_MARK_MOD;
  else if (r === PLAIN_MARK) micros += 1;
  lastStampMicros = micros;
  return micros;
}

/**
 * True when the mtime of `st` carries the mark of a plain write: its whole microseconds have
 * the plain residue, and its nanoseconds within the microsecond are what stamping `stamp + 0.5`
 * µs leaves. Node up to 22 sets times to the microsecond (truncated: 0 ns); Node 24 passes the
 * double's nanoseconds through, and a double holds seconds near 2^31 only to about 240 ns, so
 * the stamp lands within about ±120 ns of the half microsecond. A file stamped by the kernel
 * matches by chance about 1 time in 30 (1/8 of residues × about a quarter of sub-µs values).
 */
export function isPlainMarked(st: BigIntStats): boolean {
  if ((st.mtimeNs / 1000n) % BigInt(PLAIN_MARK_MOD) !== BigInt(PLAIN_MARK)) return false;
  const sub = st.mtimeNs % 1000n;
  return sub === 0n || (sub >= 375n && sub <= 625n);
}

/**
 * True when a file of `key` without any record reads back exactly as a value written with
 * these options and a sidecar would: bytes, no metadata, and the content type the key's
 * extension gives, which decodes as bytes. Such a write needs no sidecar.
 */
export function readsAsPlain(
  key: string,
  req: { valueType: ValueType | undefined; contentType: string; metadata: Record<string, string>; expiresAt?: number | undefined },
): boolean {
  // A value with an expiry always gets a sidecar: the deadline lives there.
  if (req.valueType !== "bytes" || req.expiresAt !== undefined || req.contentType !== contentTypeFromKey(key)) return false;
  for (const _ in req.metadata) return false;
  return inferValueType({ contentType: req.contentType }) === "bytes";
}


/** Sidecar records by key, each valid while its content file keeps exactly the identity it had (see {@link CachedRecords}). */
export class RecordCache {
  private readonly map = new Map<string, CachedRecords>();
  /** False once the file system is seen to keep modification times coarser than our stamps: nothing is remembered then. */
  stampsHold = true;

  /** The records of `key` remembered for exactly the content identity `st`. */
  get(key: string, st: BigIntStats): SidecarRecord[] | undefined {
    const c = this.map.get(key);
    return c && c.ino === st.ino && c.mtimeNs === st.mtimeNs && c.size === st.size ? c.records : undefined;
  }

  /** The size of the version of `key` remembered, if any. */
  sizeOf(key: string): bigint | undefined {
    return this.map.get(key)?.size;
  }

  /** True when some version of `key` is remembered. */
  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Forgets `key`. */
  forget(key: string): void {
    this.map.delete(key);
  }

  /** Remembers the records of `key` for its content identity `st`. */
  remember(key: string, st: BigIntStats, records: SidecarRecord[]): void {
    if (!this.stampsHold) return;
    const cache = this.map;
    if (!cache.has(key) && cache.size >= RECORD_CACHE_MAX) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, records });
  }

  /** The file system keeps coarser times than the stamps: identities cannot tell versions apart; remember nothing. */
  stampsDoNotHold(): void {
    this.stampsHold = false;
    this.map.clear();
  }
}

/**
 * The info of the content file `st` of `key` with its record. Without one it is a plain
 * file: etag from its identity, content type from the key's extension, no metadata, and
 * value type `bytes` when its mtime carries the mark of a plain write (see
 * {@link FileDriver.writeIn}) and that content type decodes as bytes anyway — exactly
 * what a record of that write would have said. Otherwise (a foreign file) no value type.
 */
export function infoOf(key: string, st: BigIntStats, record: SidecarRecord | undefined): ObjectInfo {
  if (record) {
    const info: ObjectInfo = {
      key,
      size: Number(st.size),
      lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
      etag: record.etag,
      contentType: record.ct,
      metadata: { ...record.meta },
      valueType: record.type,
    };
    if (record.exp !== undefined) info.expiresAt = new Date(record.exp);
    return info;
  }
  const contentType = contentTypeFromKey(key);
  return {
    key,
    size: Number(st.size),
    lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
    etag: foreignEtag(st),
    contentType,
    metadata: {},
    valueType: isPlainMarked(st) && inferValueType({ contentType }) === "bytes" ? "bytes" : undefined,
  };
}

/**
 * The record among `records` (the sidecar of `name` in `dirPath`) that describes the
 * content file `st`: by identity, else by content — a record of the same size whose
 * SHA-256 is the file's, read and hashed now (a copy of the data folder: new inode, new
 * times, same bytes; see sidecar.ts). Only the version `st` is hashed: when another version
 * holds the name by then, no record matches (see {@link hashFile}). `records` comes back with such a record
 * re-identified as `st`, so remembering them serves the next read without hashing.
 */
export async function resolveRecord(
  dirPath: string,
  name: string,
  st: BigIntStats,
  records: SidecarRecord[],
  signal?: AbortSignal,
): Promise<{ record: SidecarRecord | undefined; records: SidecarRecord[] }> {
  const record = matchRecord(records, st);
  if (record) return { record, records };
  const candidates = contentCandidates(records, st);
  if (candidates.length === 0) return { record: undefined, records };
  const sha = await hashFile(`${dirPath}/${name}`, st, signal);
  const found = sha === undefined ? undefined : candidates.find((r) => r.sha === sha);
  if (!found) return { record: undefined, records };
  const adopted = adoptRecord(found, st);
  return { record: adopted, records: [adopted, ...records.filter((r) => r !== found)] };
}

/**
 * Finds the record of the content file `st` (see {@link resolveRecord}). A file carrying
 * the plain mark needs none (see {@link infoOf}). For any other file without a matching
 * record, a concurrent writer may have replaced the file and its sidecar between our two
 * reads — a plain write removes the sidecar, a delete too — so the file must still be at
 * its name: if not, `raced` tells the caller to read again. (A foreign file pays that
 * `lstat` once per version: its empty records are then remembered.)
 */
async function recordFor(
  dir: DirRef,
  name: string,
  st: BigIntStats,
  sidecar: SidecarRecord[],
): Promise<{ record?: SidecarRecord; records: SidecarRecord[]; raced: boolean }> {
  // Content first: a copied file's new mtime may carry the plain mark by chance (about 1 in 30).
  const { record, records } = await resolveRecord(dir.path, name, st, sidecar);
  if (record || isPlainMarked(st)) return { record, records, raced: false };
  try {
    const now = await fsp.lstat(`${dir.path}/${name}`, { bigint: true });
    return { records, raced: now.ino !== st.ino || now.mtimeNs !== st.mtimeNs };
  } catch {
    return { records, raced: true };
  }
}

/**
 * The info and record of version `st` of `key`: from its remembered records, else from
 * its sidecar (then remembered). `undefined` when a concurrent writer replaced the file
 * between our reads (see {@link recordFor}) and this is not the `last` attempt: the
 * caller reads again.
 */
export async function versionOf(
  cache: RecordCache,
  dir: DirRef,
  key: string,
  name: string,
  st: BigIntStats,
  last: boolean,
): Promise<{ info: ObjectInfo; record: SidecarRecord | undefined } | undefined> {
  const known = cache.get(key, st);
  if (known) {
    const record = matchRecord(known, st);
    return { info: infoOf(key, st, record), record };
  }
  const { record, records, raced } = await recordFor(dir, name, st, await readSidecar(dir.path, name));
  if (raced && !last) return undefined;
  if (!raced) cache.remember(key, st, records);
  return { info: infoOf(key, st, record), record };
}
