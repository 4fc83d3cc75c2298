import { type BigIntStats, promises as fsp } from "node:fs";
import { compareKeys, type DriverContext, isValidKey, type ListEntry, type ListPage, type ListPageRequest, RESERVED_SEGMENT_PREFIX } from "@pepperpy/storage-core";
import { type BaseDir, closeScanDir, type DirCache, type DirLease, type DirRef, isMissing, openScanDir, type ScanDir } from "./contained-dir.js";
import { fstatFd } from "./fd-io.js";
import { sweepDir } from "./orphans.js";
import { SIDECAR_PREFIX, sidecarName, sidecarOwner } from "./sidecar.js";
import { type RecordCache, versionOf } from "./versions.js";

/**
 * Listing of FileStorage: a depth-first walk in key order over the contained directory
 * tree, with remembered sorted directory listings (valid while the directory's `ctime` is
 * unchanged), fetch-ahead of subdirectories and file `lstat`s, and the rule of which names
 * are keys (see {@link TreeLister.readDirSorted}). Reserved names met on the way are
 * handed to the orphan sweeper.
 *
 * Expiry: a value with a deadline always has a sidecar (see versions.ts: `readsAsPlain`),
 * and the directory read already shows which files have one. Only those entries cost more:
 * an `lstat` (keys-only pages too) and their record — remembered by the driver for that
 * version, else read from the sidecar — so every entry of a key with a deadline carries
 * it as `expiresAt` and the core leaves out expired ones. Files without a sidecar never expire.
 */

/** What the lister needs from its driver. */
export interface ListingHost {
  /** Open, verified directories of recent keys (procfd mode only). */
  readonly dirs: DirCache | undefined;
  /** Age (ms) after which crash leftovers met by a listing are removed. */
  readonly orphanAge: number;
  /** Sidecar records by key (the deadlines of listed values come from there). */
  readonly records: RecordCache;
  readyBase(): BaseDir | Promise<BaseDir>;
  /** Opens the directories `parents` for reading; `undefined` when one is missing. */
  walkToRead(base: BaseDir, parents: readonly string[]): Promise<DirLease | undefined>;
}

/** The sort name of a directory entry: a directory sorts as `name/`, which is where its keys sort. */
interface DirEntry {
  name: string;
  sortName: string;
  dir: boolean;
  /** A file with a sidecar in the directory: it may have a deadline. */
  sidecar?: boolean;
}

/** One `list` page being gathered by {@link TreeLister.walkDir}. */
interface TreeWalk {
  base: BaseDir;
  ctx: DriverContext;
  cursor: string | undefined;
  /** Only keys are wanted: no `lstat` per file. */
  keysOnly: boolean;
  /** Stop once `items` holds this many. */
  want: number;
  items: ListEntry[];
  /** `dev:ino` of the directories on the current path (a bind mount cannot make a loop). */
  seen: Set<string>;
}

/** What {@link TreeLister.walkDir} fetched ahead for an entry: a child directory, opened and read, or a file's `lstat`. */
interface Fetched {
  child?: { dir: ScanDir; id: string; entries: DirEntry[] };
  st?: BigIntStats;
  /** The deadline of the file's version (epoch ms), from its record. */
  exp?: number | undefined;
}

/** Subdirectories (and, for full entries, files) `list` fetches ahead of its walk, per directory. */
const LIST_AHEAD = 6;
/** A listing is remembered only when its directory had not changed for this long (ns) when the read began. */
const LISTING_SETTLED_NS = 100_000_000n;
/** The same, on a file system keeping times to the millisecond or coarser. */
const LISTING_SETTLED_COARSE_NS = 3_000_000_000n;
/** Most directory listings remembered, and most names in them together. */
const LISTING_CACHE_DIRS = 256;
const LISTING_CACHE_NAMES = 65_536;

/** A directory's sorted entries, remembered while its identity and change time are these. */
interface Listing {
  dev: bigint;
  ino: bigint;
  ctimeNs: bigint;
  mtimeNs: bigint;
  entries: DirEntry[];
}

function byKeyOrder(a: DirEntry, b: DirEntry): number {
  return compareKeys(a.sortName, b.sortName);
}

/** First index whose sort name is not below `s`. */
function lowerBound(entries: readonly DirEntry[], s: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(entries[mid]!.sortName, s) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose sort name is above `s`. */
function upperBound(entries: readonly DirEntry[], s: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(entries[mid]!.sortName, s) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Identity and times of an open directory: `fstat` of its descriptor, or without one (no /proc) `lstat` of its path. */
function statDir(dir: DirRef, fd = dir.handle?.fd ?? -1): Promise<BigIntStats> {
  return fd >= 0 ? fstatFd(fd) : fsp.lstat(dir.path, { bigint: true });
}

/** Lists keys for one driver, remembering sorted directory listings. */
export class TreeLister {
  /** Sorted directory listings by key prefix (`""`, `a/b/`), valid while the directory is unchanged (see {@link readListing}). */
  private readonly listings = new Map<string, Listing>();
  private listingNames = 0;

  constructor(private readonly host: ListingHost) {}

  /** A page of the keys under `prefix` (see the driver contract's `list`). */
  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    const base = await this.host.readyBase();
    // Only the directory of the prefix is walked, and below it only entries that can match.
    const slash = prefix.lastIndexOf("/");
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    const w = await this.host.dirs?.hit(dirKey.slice(0, -1));
    const lease = w ?? (await this.host.walkToRead(base, dirKey ? dirKey.slice(0, -1).split("/") : []));
    if (!lease) return { items: [] };
    // One entry more than the page, to know whether more follow.
    const walk: TreeWalk = { base, ctx, cursor: page.cursor, keysOnly: page.keysOnly === true, want: page.limit + 1, items: [], seen: new Set() };
    try {
      const listing = await this.readListing(lease.dir, dirKey, lease.dir.handle?.fd ?? -1);
      walk.seen.add(listing.id);
      await this.walkDir(walk, lease.dir, dirKey, listing.entries, namePrefix);
    } finally {
      lease.release();
    }
    const items = walk.items;
    if (items.length <= page.limit) return { items };
    items.length = page.limit;
    return items.length > 0 ? { items, cursor: items[items.length - 1]!.key } : { items };
  }

  /**
   * Appends the keys under `dir` (sorted entries `entries`, only names starting with
   * `namePrefix`) to `walk.items` in key order, until it holds `walk.want`. Depth first;
   * never follows a symlink (each subdirectory is opened `O_NOFOLLOW` relative to its
   * parent) and never enters a directory twice (its `dev:ino` is on the current path).
   * The next few subdirectories (and, for full entries, files' `lstat`s) are fetched
   * ahead, side by side: each is a thread-pool round trip.
   */
  private async walkDir(walk: TreeWalk, dir: DirRef, dirKey: string, entries: readonly DirEntry[], namePrefix: string): Promise<void> {
    walk.ctx.signal.throwIfAborted();
    let from = 0;
    let to = entries.length;
    if (namePrefix !== "") {
      // Names starting with the prefix are contiguous in sort order.
      from = lowerBound(entries, namePrefix);
      to = from;
      while (to < entries.length && entries[to]!.name.startsWith(namePrefix)) to++;
    }
    const cursor = walk.cursor;
    if (cursor?.startsWith(dirKey)) {
      // Everything up to the cursor is skipped, except the directory the cursor is inside.
      const rest = cursor.slice(dirKey.length);
      let i = Math.max(from, upperBound(entries, rest));
      const before = entries[i - 1];
      if (i > from && before?.dir && rest.startsWith(before.sortName)) i--;
      from = i;
    } else if (cursor !== undefined && compareKeys(dirKey, cursor) < 0) {
      return; // every key under `dirKey` sorts before the cursor
    }
    // Fetches ahead: index → the opened child directory, or a file's lstat.
    const ahead = new Map<number, Promise<Fetched>>();
    let next = from;
    const fill = (): void => {
      while (ahead.size < LIST_AHEAD && next < to) {
        const e = entries[next]!;
        if (e.dir) ahead.set(next, this.fetchChild(walk, dir, dirKey + e.sortName, e.name));
        else if (!walk.keysOnly || e.sidecar) ahead.set(next, this.fetchFile(dir, dirKey + e.name, e));
        // A failure is thrown where the entry's turn comes; until then it is not "unhandled".
        ahead.get(next)?.catch(() => undefined);
        next++;
      }
    };
    try {
      for (let i = from; i < to; i++) {
        if (walk.items.length >= walk.want) return;
        fill();
        const e = entries[i]!;
        const fetched = ahead.get(i);
        ahead.delete(i);
        if (!e.dir) {
          if (walk.keysOnly && !e.sidecar) {
            walk.items.push({ key: dirKey + e.name, size: -1, lastModified: new Date(Number.NaN) });
            continue;
          }
          const { st, exp } = await fetched!;
          if (!st?.isFile()) continue;
          const item: ListEntry = walk.keysOnly
            ? { key: dirKey + e.name, size: -1, lastModified: new Date(Number.NaN) }
            : { key: dirKey + e.name, size: Number(st.size), lastModified: new Date(Number(st.mtimeNs / 1_000_000n)) };
          if (exp !== undefined) item.expiresAt = new Date(exp);
          walk.items.push(item);
          continue;
        }
        const child = (await fetched!).child;
        if (!child) continue;
        try {
          if (walk.seen.has(child.id)) continue;
          walk.seen.add(child.id);
          await this.walkDir(walk, child.dir.ref, dirKey + e.sortName, child.entries, "");
          walk.seen.delete(child.id);
        } finally {
          await closeScanDir(child.dir);
        }
      }
    } finally {
      // Stopped early (page full, error, abort): close what was fetched ahead.
      for (const p of ahead.values()) {
        const f = await p.catch(() => undefined);
        if (f?.child) await closeScanDir(f.child.dir);
      }
    }
  }

  /**
   * The `lstat` of the file `e` of `dir` (key `key`) for {@link walkDir}, and for a file with
   * a sidecar the deadline of that version: from the driver's remembered records, else from
   * its sidecar (then remembered). Nothing when the file is gone.
   */
  private async fetchFile(dir: DirRef, key: string, e: DirEntry): Promise<Fetched> {
    let st: BigIntStats;
    try {
      st = await fsp.lstat(`${dir.path}/${e.name}`, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return {};
      throw error;
    }
    if (!e.sidecar || !st.isFile()) return { st };
    // `last`: a file replaced meanwhile is listed as it was seen, without a record; it is not remembered.
    const version = await versionOf(this.host.records, dir, key, e.name, st, true);
    return { st, exp: version?.record?.exp };
  }

  /** Opens and reads the subdirectory `name` of `dir` for {@link walkDir}; nothing when it is gone or not a real directory. */
  private async fetchChild(walk: TreeWalk, dir: DirRef, key: string, name: string): Promise<Fetched> {
    let child: ScanDir;
    try {
      child = await openScanDir(walk.base, dir, name);
    } catch (error) {
      if (isMissing(error)) return {};
      throw error;
    }
    try {
      return { child: { dir: child, ...(await this.readListing(child.ref, key, child.fd)) } };
    } catch (error) {
      await closeScanDir(child);
      if (isMissing(error)) return {};
      throw error;
    }
  }

  /**
   * The identity and sorted entries of the open directory `dir` (key prefix `key`).
   * A listing is remembered while the directory is unchanged: the directory's change
   * time (`ctime`, set by the kernel on every create, remove or rename in it, and not
   * settable by anyone) must be exactly the remembered one, in nanoseconds. Only listings
   * whose `ctime` was already older than {@link LISTING_SETTLED_NS} when the read began
   * are remembered, so a change in the same clock tick as the read cannot share its `ctime`.
   */
  private async readListing(dir: DirRef, key: string, fd: number): Promise<{ id: string; entries: DirEntry[] }> {
    const began = BigInt(Date.now()) * 1_000_000n;
    // The identity before the read: the read then shows at least what this change time stands for.
    const st = await statDir(dir, fd);
    const known = this.listings.get(key);
    if (known) {
      if (st.ino === known.ino && st.dev === known.dev && st.ctimeNs === known.ctimeNs && st.mtimeNs === known.mtimeNs) {
        return { id: `${st.dev}:${st.ino}`, entries: known.entries };
      }
      this.forgetListing(key);
    }
    const read = await this.readDirSorted(dir, key);
    const margin = st.ctimeNs % 1_000_000n === 0n ? LISTING_SETTLED_COARSE_NS : LISTING_SETTLED_NS;
    if (read.settled && st.ctimeNs < began - margin && read.entries.length <= LISTING_CACHE_NAMES >> 2) {
      this.listings.set(key, { dev: st.dev, ino: st.ino, ctimeNs: st.ctimeNs, mtimeNs: st.mtimeNs, entries: read.entries });
      this.listingNames += read.entries.length;
      while (this.listingNames > LISTING_CACHE_NAMES || this.listings.size > LISTING_CACHE_DIRS) {
        const oldest = this.listings.keys().next().value;
        if (oldest === undefined) break;
        this.forgetListing(oldest);
      }
    }
    return { id: `${st.dev}:${st.ino}`, entries: read.entries };
  }

  private forgetListing(key: string): void {
    const l = this.listings.get(key);
    if (!l) return;
    this.listings.delete(key);
    this.listingNames -= l.entries.length;
  }

  /**
   * A directory's entries that can be keys, sorted as their keys sort: regular files whose
   * key (`dirKey` + name) is a valid key, and real directories whose key prefix is a valid
   * key (every key below would contain an invalid segment otherwise). Never symlinks, never
   * reserved `.pepperpy*` names, never a name that is not valid UTF-8 (it has no key: a
   * lossy decoding would name another file), a backslash, a control character, a `.`/`..`
   * segment, a drive letter at the start of a key or a key over 1024 bytes — the names
   * `validateKey` rejects, so every listed key is one every other operation accepts. Temp
   * files and sidecars left by crashed writers and older than `orphanAge` are removed on
   * the way. `settled`: nothing in it is for a later sweep (no temp file, lock or orphaned
   * sidecar).
   */
  private async readDirSorted(dir: DirRef, dirKey: string): Promise<{ entries: DirEntry[]; settled: boolean }> {
    const dirents = await fsp.readdir(dir.path, { withFileTypes: true, encoding: "buffer" });
    const out: DirEntry[] = [];
    const reserved: string[] = [];
    const names = new Set<string>();
    for (const d of dirents) {
      const raw = d.name;
      const name = raw.toString("utf8");
      // Not UTF-8: the decoded name (with U+FFFD) names no file.
      if (name.includes("\uFFFD") && !Buffer.from(name, "utf8").equals(raw)) continue;
      if (name.startsWith(RESERVED_SEGMENT_PREFIX)) {
        reserved.push(name);
        continue;
      }
      names.add(name);
      if (!isValidKey(dirKey + name)) continue;
      let isDir = d.isDirectory();
      let isFile = d.isFile();
      if (!isDir && !isFile && !d.isSymbolicLink() && !d.isFIFO() && !d.isSocket() && !d.isBlockDevice() && !d.isCharacterDevice()) {
        // DT_UNKNOWN on some file systems: ask lstat (never stat, which follows links).
        try {
          const st = await fsp.lstat(`${dir.path}/${name}`);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue;
        }
      }
      if (isDir) out.push({ name, sortName: `${name}/`, dir: true });
      else if (isFile) out.push({ name, sortName: name, dir: false });
    }
    let settled = true;
    if (reserved.length > 0) {
      // Which files have a sidecar (and so may have a deadline): known from the names alone.
      const sidecars = new Set(reserved);
      for (const e of out) if (!e.dir && sidecars.has(sidecarName(e.name))) e.sidecar = true;
      for (const name of reserved) {
        if (name.startsWith(`${SIDECAR_PREFIX}#`)) continue;
        const owner = sidecarOwner(name);
        if (owner === undefined || !names.has(owner)) settled = false;
      }
      if (!settled) await sweepDir(dir, reserved, names, this.host.orphanAge);
    }
    out.sort(byKeyOrder);
    return { entries: out, settled };
  }
}
