import { checkOptionNames } from "./options.js";
import { StorageConfigError, StorageValidationError, isStorageError } from "./errors.js";
import { compareKeys } from "./keys.js";
import { innerOptions, orUndefined } from "./layer.js";
import { checkNamespacePrefix, putOptionsOf } from "./prefixed.js";
import type { ResolvedStorageConfig, StoragePlugin } from "./registry.js";
import { BaseStorage, type BaseStorageOptions, STACK_BASE, forwardedExpiry, forwardedValueType, readEntry, readEntryStream } from "./storage.js";
import type {
  BatchOptions,
  DriverContext,
  ListEntry,
  ListPage,
  ListPageRequest,
  ObjectInfo,
  PutOptions,
  Storage,
  StorageCapabilities,
  StorageDriver,
  StorageValue,
  StoredEntry,
  StoredStream,
  WriteRequest,
} from "./types.js";

/**
 * Mount points and the storages mounted there: a plain object (`{ "": s3, "cache/": memory }`),
 * a `Map`, or `[point, storage]` pairs. `""` (or `"/"`) is the root; any other point is a valid
 * key, with or without the trailing `/` (`"cache"` and `"cache/"` are the same point).
 */
export type MountTable = Readonly<Record<string, Storage>> | ReadonlyMap<string, Storage> | Iterable<readonly [string, Storage]>;

/** One mount: where it is and what is there. */
interface Mount {
  /** `""` for the root, else a valid key followed by `/`. */
  readonly point: string;
  readonly storage: Storage;
  /** Backend name in errors: `mount[cache/](memory)`. */
  readonly label: string;
}

/** A key routed to its mount, with the key the mounted storage sees. */
interface Route {
  mount: Mount;
  key: string;
}

/** Marks a mount whose whole range lies before a listing cursor: nothing to ask it. */
const PASSED = Symbol("passed");

function normalizePoint(point: string): string {
  if (point === "" || point === "/") return "";
  const withSlash = point.endsWith("/") ? point : `${point}/`;
  checkNamespacePrefix(withSlash, "mount", "mount");
  return withSlash;
}

function entriesOf(table: MountTable): [string, Storage][] {
  if (table instanceof Map) return [...table.entries()];
  if (typeof (table as Iterable<unknown>)[Symbol.iterator] === "function") return [...(table as Iterable<readonly [string, Storage]>)].map(([p, s]) => [p, s]);
  return Object.entries(table as Record<string, Storage>);
}

/**
 * The mount policy, as a driver:
 * - every key goes to the mount with the **longest** point that starts it, and the mounted
 *   storage sees the key **without** the point (`cache/x` is `x` on the storage at `cache/`),
 *   as a file system mount does;
 * - a key under no mount (possible only without a root mount) is a `StorageValidationError`;
 * - **lists** merge every mount that can hold keys under the prefix, in key order; a mount
 *   point inside another mount's range hides that storage's own keys under it (`cache/x`
 *   stored on the root storage is not listed, and not readable, once `cache/` is mounted);
 * - `copy` / `move` inside one mount use that storage's own copy / move; across mounts the
 *   value is streamed (with its type, content type, metadata and expiry), and a move deletes
 *   the source once the copy is written;
 * - capabilities are those every mounted storage has; `close` closes every mounted storage.
 */
export class MountDriver implements StorageDriver {
  readonly name: string;
  readonly capabilities: StorageCapabilities;
  /** Mounts, longest point first (the routing order). */
  private readonly byLength: readonly Mount[];

  constructor(table: MountTable) {
    const mounts = new Map<string, Mount>();
    for (const [rawPoint, storage] of entriesOf(table)) {
      if (typeof rawPoint !== "string") throw new StorageValidationError("Invalid mount point: expected a string", { operation: "mount", backend: "mount" });
      const point = normalizePoint(rawPoint);
      if (!storage || typeof (storage as Storage).listPage !== "function") {
        throw new StorageValidationError(`Invalid mount ${JSON.stringify(rawPoint)}: expected a Storage`, { operation: "mount", backend: "mount" });
      }
      if (mounts.has(point)) throw new StorageValidationError(`Mount point ${JSON.stringify(point || "/")} given twice`, { operation: "mount", backend: "mount" });
      mounts.set(point, { point, storage, label: `mount[${point || "/"}](${storage.name})` });
    }
    if (mounts.size === 0) throw new StorageValidationError("MountStorage needs at least one mount", { operation: "mount", backend: "mount" });
    this.byLength = [...mounts.values()].sort((a, b) => b.point.length - a.point.length);
    const sorted = [...mounts.values()].sort((a, b) => compareKeys(a.point, b.point));
    this.name = `mount(${sorted.map((m) => `${m.point || "/"}=${m.storage.name}`).join(", ")})`;
    const all = (k: keyof StorageCapabilities) => sorted.every((m) => m.storage.capabilities[k]);
    this.capabilities = {
      rangeRead: all("rangeRead"),
      conditionalWrite: all("conditionalWrite"),
      // A copy across two mounts moves the bytes through this process.
      serverSideCopy: all("serverSideCopy") && sorted.length === 1,
      keyIsAlsoPrefix: all("keyIsAlsoPrefix"),
      durable: all("durable"),
      persistent: all("persistent"),
      // A mount that answers from memory without yielding makes the whole mount such a store.
      yieldsToEventLoop: sorted.every((m) => m.storage.capabilities.yieldsToEventLoop !== false),
    };
  }

  /** `exists` asks a `Storage`, which leaves out expired keys itself. */
  readonly existsHonorsExpiry = true;

  /** The mounts by point (`""` for the root). */
  get mounts(): ReadonlyMap<string, Storage> {
    return new Map([...this.byLength].sort((a, b) => compareKeys(a.point, b.point)).map((m) => [m.point, m.storage]));
  }

  /** The mount a full key (or prefix) belongs to: the longest point that starts it. */
  private mountOf(key: string): Mount | undefined {
    for (const m of this.byLength) if (key.startsWith(m.point)) return m;
    return undefined;
  }

  /** Routes a key, or throws a `StorageValidationError` when no mount holds it. */
  route(key: string): Route {
    const mount = this.mountOf(key);
    if (!mount) {
      const points = this.byLength.map((m) => m.point).sort(compareKeys);
      throw new StorageValidationError(`No mount holds this key (mount points: ${points.join(", ")}; mount a storage at "" for every other key)`, { key });
    }
    return { mount, key: key.slice(mount.point.length) };
  }

  /** Rewrites an error of a mounted storage: the full key, and the mount as backend. */
  private relabel(mount: Mount): (error: unknown) => never {
    return (error) => {
      if (isStorageError(error)) {
        if (error.key !== undefined && mount.point) error.key = mount.point + error.key;
        error.backend = undefined;
        error.withContext({ backend: mount.label });
      }
      throw error;
    };
  }

  private withKey<T extends ListEntry>(mount: Mount, entry: T): T {
    return mount.point ? { ...entry, key: mount.point + entry.key } : entry;
  }

  async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    const r = this.route(key);
    const entry = await orUndefined(readEntry(r.mount.storage, r.key, innerOptions(ctx), ctx.operation)).catch(this.relabel(r.mount));
    return entry && { info: this.withKey(r.mount, entry.info), data: entry.data };
  }

  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }, ctx: DriverContext): Promise<StoredStream | undefined> {
    const r = this.route(key);
    const opened = await orUndefined(readEntryStream(r.mount.storage, r.key, { ...range, ...innerOptions(ctx) }, ctx.operation)).catch(this.relabel(r.mount));
    return opened && { info: this.withKey(r.mount, opened.info), stream: opened.stream };
  }

  async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    const r = this.route(key);
    const info = await orUndefined(r.mount.storage.stat(r.key, innerOptions(ctx))).catch(this.relabel(r.mount));
    return info && this.withKey(r.mount, info);
  }

  exists(key: string, ctx: DriverContext): Promise<boolean> {
    const r = this.route(key);
    return r.mount.storage.exists(r.key, innerOptions(ctx)).catch(this.relabel(r.mount));
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const r = this.route(key);
    const info = await r.mount.storage.put(r.key, req.body, putOptionsOf(req, ctx)).catch(this.relabel(r.mount));
    return this.withKey(r.mount, info);
  }

  delete(key: string, ctx: DriverContext): Promise<void> {
    const r = this.route(key);
    return r.mount.storage.delete(r.key, innerOptions(ctx)).catch(this.relabel(r.mount));
  }

  /** One native batch per mount, all routed before any is sent. */
  async deleteMany(keys: readonly string[], ctx: DriverContext): Promise<void> {
    const groups = new Map<Mount, string[]>();
    for (const key of keys) {
      const r = this.route(key);
      const group = groups.get(r.mount);
      if (group) group.push(r.key);
      else groups.set(r.mount, [r.key]);
    }
    const results = await Promise.allSettled([...groups].map(([m, inner]) => m.storage.deleteMany(inner, innerOptions(ctx)).catch(this.relabel(m))));
    const failed = results.find((x): x is PromiseRejectedResult => x.status === "rejected");
    if (failed) throw failed.reason;
  }

  async copy(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.transfer(from, to, ctx, false);
  }

  async move(from: string, to: string, ctx: DriverContext): Promise<boolean> {
    return this.transfer(from, to, ctx, true);
  }

  private async transfer(from: string, to: string, ctx: DriverContext, move: boolean): Promise<boolean> {
    const a = this.route(from);
    const b = this.route(to);
    const opts = innerOptions(ctx);
    if (a.mount === b.mount) {
      const storage = a.mount.storage;
      const done = move ? storage.move(a.key, b.key, opts) : storage.copy(a.key, b.key, opts);
      return (await orUndefined(done.then(() => true)).catch(this.relabel(a.mount))) ?? false;
    }
    const source = await orUndefined(readEntryStream(a.mount.storage, a.key, opts, ctx.operation)).catch(this.relabel(a.mount));
    if (!source) return false;
    const { info, stream } = source;
    const put: PutOptions = {
      contentType: info.contentType,
      metadata: info.metadata,
      ...forwardedValueType(info.valueType ?? "bytes"),
      // A copy keeps the deadline, as a copy inside one backend does.
      ...forwardedExpiry(info.expiresAt ?? null),
      ...opts,
    };
    try {
      await b.mount.storage.put(b.key, stream, put);
    } catch (error) {
      stream.destroy();
      this.relabel(b.mount)(error);
    }
    if (move) await a.mount.storage.delete(a.key, opts).catch(this.relabel(a.mount));
    return true;
  }

  /**
   * The mounts that can hold keys under `prefix`, with the prefix each is listed with: the
   * mount the prefix itself falls in, and every mount whose point lies under the prefix.
   */
  private participants(prefix: string): { mount: Mount; prefix: string }[] {
    const out: { mount: Mount; prefix: string }[] = [];
    const home = this.mountOf(prefix);
    if (home) out.push({ mount: home, prefix: prefix.slice(home.point.length) });
    for (const m of this.byLength) {
      if (m !== home && m.point.startsWith(prefix) && (!home || m.point.length > home.point.length)) out.push({ mount: m, prefix: "" });
    }
    return out;
  }

  /** The cursor a mount is asked with, or PASSED when its whole range lies before `cursor`. */
  private innerCursor(mount: Mount, cursor: string | undefined): string | undefined | typeof PASSED {
    if (cursor === undefined) return undefined;
    if (cursor.startsWith(mount.point)) return cursor.length === mount.point.length ? undefined : cursor.slice(mount.point.length);
    return compareKeys(cursor, mount.point) < 0 ? undefined : PASSED;
  }

  async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    let cursor = page.cursor;
    // A round can come back empty but unfinished when every key a mount returned was hidden
    // by a deeper mount: ask again from where that mount stopped.
    for (;;) {
      const round = await this.listRound(prefix, { ...page, cursor }, ctx);
      if (round.items.length > 0 || round.resumeAfter === undefined) {
        const last = round.items[round.items.length - 1];
        return round.more && last ? { items: round.items, cursor: last.key } : { items: round.items };
      }
      cursor = round.resumeAfter;
    }
  }

  private async listRound(
    prefix: string,
    page: ListPageRequest,
    ctx: DriverContext,
  ): Promise<{ items: ListEntry[]; more: boolean; resumeAfter?: string | undefined }> {
    const parts = this.participants(prefix);
    const pages = await Promise.all(
      parts.map(({ mount, prefix: inner }) => {
        const cursor = this.innerCursor(mount, page.cursor);
        if (cursor === PASSED) return undefined;
        return mount.storage
          .listPage(inner, { limit: page.limit, keysOnly: page.keysOnly, cursor, ...innerOptions(ctx) })
          .catch(this.relabel(mount));
      }),
    );
    let items: ListEntry[] = [];
    // Stop at the smallest last key of any mount that has more: a mount cut short may
    // still hold keys below another mount's last key.
    let limitKey: string | undefined;
    pages.forEach((p, i) => {
      if (!p) return;
      const mount = parts[i]!.mount;
      for (const item of p.items) {
        const key = mount.point + item.key;
        // Hidden: the key belongs to a deeper mount.
        if (this.mountOf(key) !== mount) continue;
        items.push(this.withKey(mount, item));
      }
      // The page's cursor (its last key, or where a page left empty stopped) bounds the round.
      if (p.cursor !== undefined) {
        const lastKey = mount.point + p.cursor;
        if (limitKey === undefined || compareKeys(lastKey, limitKey) < 0) limitKey = lastKey;
      }
    });
    items.sort((x, y) => compareKeys(x.key, y.key));
    if (limitKey !== undefined) {
      const bound = limitKey;
      items = items.filter((e) => compareKeys(e.key, bound) <= 0);
    }
    const truncated = items.length > page.limit;
    if (truncated) items = items.slice(0, page.limit);
    return { items, more: truncated || limitKey !== undefined, resumeAfter: limitKey };
  }

  /** Every mount that can hold keys under `prefix` purges them, with its own clock; the counts add up. */
  async purgeExpired(prefix: string, _now: number, ctx: DriverContext): Promise<number> {
    const counts = await Promise.all(
      this.participants(prefix).map(({ mount, prefix: inner }) => mount.storage.purgeExpired(inner, innerOptions(ctx)).catch(this.relabel(mount))),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    const storages = [...new Set(this.byLength.map((m) => m.storage))];
    const results = await Promise.allSettled(storages.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/**
 * Several storages under one key space, each at a mount point:
 * `new MountStorage({ "": s3, "cache/": memory, "tmp/": file })`. Each key goes to the mount
 * with the longest matching point, which sees the key without the point; lists merge the
 * mounts in key order; copy and move across mounts stream. See {@link MountDriver} for the
 * exact policy.
 *
 * @example
 * const storage = new MountStorage({ "": new FileStorage("./data"), "cache/": new MemoryStorage() });
 * await storage.put("cache/session", { user: 1 }); // kept in memory as "session"
 */
export class MountStorage extends BaseStorage {
  protected declare readonly driver: MountDriver;

  constructor(mounts: MountTable, options: BaseStorageOptions = {}) {
    checkOptionNames(options, [], "MountStorage");
    // Each mounted storage keeps its own default timeout; the mount adds none unless asked.
    super(new MountDriver(mounts), { ...options, timeout: options.timeout ?? 0 });
  }

  /** The mounted storages by point (`""` is the root). */
  get mounts(): ReadonlyMap<string, Storage> {
    return this.driver.mounts;
  }

  /** Not composed onto: a layer over a mount goes through its public methods, so `putMany` routes every key first. */
  override [STACK_BASE](): undefined {
    return undefined;
  }

  /** Routes every key before writing any, so a key under no mount stores nothing. */
  override async putMany(
    entries: Iterable<readonly [string, StorageValue]> | Record<string, StorageValue>,
    opts?: BatchOptions & PutOptions,
  ): Promise<void> {
    const list: (readonly [string, StorageValue])[] =
      typeof (entries as Iterable<unknown>)[Symbol.iterator] === "function"
        ? [...(entries as Iterable<readonly [string, StorageValue]>)]
        : Object.entries(entries as Record<string, StorageValue>);
    for (const [key] of list) this.routeOrFail(key, "putMany");
    return super.putMany(list, opts);
  }

  private routeOrFail(key: unknown, operation: string): void {
    if (typeof key !== "string") return; // the base class rejects it with the key rules
    try {
      this.driver.route(key);
    } catch (error) {
      throw this.toStorageError(error, operation, key);
    }
  }
}

/**
 * Config `type: mount`: `mounts` maps mount points to storage configs
 * (`mounts: { "": { type: s3, … }, cache/: { type: memory } }`).
 */
export const mountPlugin: StoragePlugin = {
  type: "mount",
  fields: { mounts: "storage-map" },
  required: ["mounts"],
  async create(config, ctx) {
    const table = config.mounts as Record<string, ResolvedStorageConfig>;
    const built: [string, Storage][] = [];
    try {
      for (const [point, nested] of Object.entries(table)) built.push([point, await ctx.createStorage(nested)]);
      return new MountStorage(built, { timeout: config.timeout, maxSize: config.maxSize });
    } catch (error) {
      await Promise.allSettled(built.map(([, s]) => s.close()));
      if (isStorageError(error, "VALIDATION")) {
        throw new StorageConfigError(`storage.mounts: ${error.detail}`, { cause: error, operation: "createStorage" });
      }
      throw error;
    }
  },
};
