import { EventEmitter } from "node:events";
import { type Storage, type StorageValue, StorageNotFoundError, StorageValidationError, decodeKey, encodeKey } from "@pepperpy/storage-core";

/**
 * How Keyv keys become storage keys.
 * - `"plain"` (default): the key as is (`namespace:key` is stored as `namespace/key`). Keys
 *   the storage refuses (`https://…` with `//`, a `..` segment, a 300-byte segment on a file
 *   system) fail: Keyv then resolves `set` to `false` and emits `error`.
 * - `"escape"`: every key is encoded with `encodeKey` from `@pepperpy/storage-core` into one
 *   every backend accepts, reversibly (`https://a` is stored as `https:/%/a`; long segments
 *   are cut in 200-byte pieces). Ordinary keys are unchanged; `%` and a leading `.` are escaped.
 */
export type KeyEncoding = "plain" | "escape";

/** Options of {@link KeyvStorage}. */
export interface KeyvStorageOptions {
  /** See {@link KeyEncoding}. Default `"plain"`. */
  keyEncoding?: KeyEncoding | undefined;
}

/** One entry of `setMany`, as Keyv passes it. */
export interface KeyvEntry {
  key: string;
  value: unknown;
  ttl?: number | undefined;
}

/** How many keys `clear` deletes per batch. */
const CLEAR_BATCH = 1000;

/**
 * A Keyv store (Keyv 5 `KeyvStoreAdapter`) over any `Storage`, layers included:
 * `new Keyv({ store: new KeyvStorage(storage) })`.
 *
 * - **Namespaces are prefixes**: Keyv hands the store `namespace:key`; it is stored as
 *   `namespace/key`, and `clear()` deletes only `namespace/`. Without a namespace keys are
 *   stored as given and `clear()` deletes every key of the storage (give the store a
 *   `storage.withPrefix("cache/")` view to confine it).
 * - **TTL is native**: `set(key, value, ttl)` is `put(key, value, { ttl })`, so the storage
 *   itself hides the value from its deadline on, in every process, and `purgeExpired()`
 *   reclaims the space (Keyv also checks the deadline it serializes with the value).
 * - Values are stored as Keyv gives them: the serialized string by default (raw objects
 *   when Keyv's serializer is turned off are stored as JSON).
 * - `delete` answers whether the key existed from an `exists` just before the delete: under
 *   concurrent deletes of one key both may answer `true`.
 * - `disconnect()` closes the storage, as Keyv's own stores close their client.
 * - Keyv 5 wires `keyv.iterator()` only for the stores it knows by name; call
 *   {@link withIterator} on the `Keyv` to get it (the store's own `iterator()` works as is).
 */
export class KeyvStorage extends EventEmitter {
  /** The storage values are kept in. */
  readonly storage: Storage;
  /** Set by Keyv: the namespace of the `Keyv` using this store. */
  namespace?: string | undefined;
  /** Store options, as Keyv reads them (`dialect` and `url` identify the store). */
  opts: { dialect: string; url: string; keyEncoding: KeyEncoding; [option: string]: unknown };
  private readonly escape: boolean;

  constructor(storage: Storage, options: KeyvStorageOptions = {}) {
    super();
    const keyEncoding = options.keyEncoding ?? "plain";
    if (keyEncoding !== "plain" && keyEncoding !== "escape") {
      throw new StorageValidationError(`Invalid keyEncoding ${JSON.stringify(keyEncoding)}: expected "plain" or "escape"`, { backend: "keyv" });
    }
    this.storage = storage;
    this.escape = keyEncoding === "escape";
    // Not a dialect Keyv lists as iterable, so Keyv never guesses from the storage's name.
    this.opts = { dialect: "pepperpy-storage", url: "pepperpy-storage", keyEncoding };
  }

  private encode(part: string): string {
    return this.escape ? encodeKey(part) : part;
  }

  /** The folder of a namespace, ending in `/`. */
  private folder(namespace: string): string {
    return `${this.encode(namespace)}/`;
  }

  /** The storage key of a Keyv key (`namespace:key` → `namespace/key`). */
  storageKey(key: string): string {
    const ns = this.namespace;
    if (ns && key.startsWith(`${ns}:`)) return this.folder(ns) + this.encode(key.slice(ns.length + 1));
    return this.encode(key);
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    try {
      return (await this.storage.get(this.storageKey(key))) as Value;
    } catch (error) {
      if (error instanceof StorageNotFoundError) return undefined;
      throw error;
    }
  }

  async getMany<Value>(keys: string[]): Promise<(Value | undefined)[]> {
    return this.storage.getMany<Value>(keys.map((k) => this.storageKey(k)));
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await this.storage.put(this.storageKey(key), value as StorageValue, ttlOptions(ttl));
    return true;
  }

  async setMany(entries: KeyvEntry[]): Promise<boolean[]> {
    await Promise.all(entries.map((e) => this.storage.put(this.storageKey(e.key), e.value as StorageValue, ttlOptions(e.ttl))));
    return entries.map(() => true);
  }

  async has(key: string): Promise<boolean> {
    return this.storage.exists(this.storageKey(key));
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((k) => this.has(k)));
  }

  async delete(key: string): Promise<boolean> {
    const k = this.storageKey(key);
    const existed = await this.storage.exists(k);
    if (existed) await this.storage.delete(k);
    return existed;
  }

  /** `true` when at least one of the keys existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const mapped = keys.map((k) => this.storageKey(k));
    const existed = await Promise.all(mapped.map((k) => this.storage.exists(k)));
    const present = mapped.filter((_, i) => existed[i]);
    if (present.length > 0) await this.storage.deleteMany(present);
    return present.length > 0;
  }

  /** Deletes the namespace's keys, or every key of the storage without a namespace. */
  async clear(): Promise<void> {
    const prefix = this.namespace ? this.folder(this.namespace) : "";
    let batch: string[] = [];
    for await (const entry of this.storage.iterate(prefix)) {
      batch.push(entry.key);
      if (batch.length >= CLEAR_BATCH) {
        await this.storage.deleteMany(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await this.storage.deleteMany(batch);
  }

  /**
   * `[key, value]` pairs of the namespace in key order, keys as Keyv gave them
   * (`namespace:key`). A key deleted or expired while iterating is left out.
   */
  async *iterator<Value>(namespace?: string): AsyncGenerator<[string, Value], void> {
    const ns = namespace ?? this.namespace;
    const prefix = ns ? this.folder(ns) : "";
    for await (const entry of this.storage.iterate(prefix)) {
      let value: Value;
      try {
        value = (await this.storage.get(entry.key)) as Value;
      } catch (error) {
        if (error instanceof StorageNotFoundError) continue;
        throw error;
      }
      const rest = entry.key.slice(prefix.length);
      const key = this.escape ? decodeKey(rest) : rest;
      yield [ns ? `${ns}:${key}` : key, value];
    }
  }

  /** Closes the storage. */
  async disconnect(): Promise<void> {
    await this.storage.close();
  }
}

function ttlOptions(ttl: number | undefined): { ttl?: number } {
  return typeof ttl === "number" && Number.isFinite(ttl) && ttl > 0 ? { ttl } : {};
}

/** What {@link withIterator} needs of a `Keyv` (Keyv 5). */
interface KeyvLike {
  opts: { store?: unknown };
  iterator?: unknown;
  generateIterator(iterator: (namespace?: string) => AsyncGenerator<unknown>): unknown;
}

/**
 * Wires `keyv.iterator()` to a {@link KeyvStorage} store (Keyv 5 wires it only for the SQL,
 * Mongo, Redis, Valkey and etcd stores it knows). Returns the same `Keyv`.
 *
 * @example
 * const keyv = withIterator(new Keyv({ store: new KeyvStorage(storage), namespace: "users" }));
 * for await (const [key, value] of keyv.iterator()) console.log(key, value);
 */
export function withIterator<K extends KeyvLike>(keyv: K): K {
  const store = keyv.opts.store;
  if (!(store instanceof KeyvStorage)) {
    throw new StorageValidationError("withIterator: the Keyv's store is not a KeyvStorage", { backend: "keyv" });
  }
  keyv.iterator = keyv.generateIterator(store.iterator.bind(store));
  return keyv;
}
