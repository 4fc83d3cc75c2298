import { StorageValidationError } from "./errors.js";
import type { ObjectInfo, OperationOptions, PutOptions, PutValue, Storage } from "./types.js";

/**
 * The keys under one prefix of a storage, all holding values of one type `T`: the type is
 * written once, where the space is made, instead of at every `get<T>`. Ids are keys
 * relative to the prefix. It is a view: nothing is copied, and values written through the
 * storage under the prefix are read through the space (run time checks nothing about `T`:
 * `get` returns what was stored, as `storage.get<T>` does).
 */
export interface KeySpace<T> {
  /** The storage the space reads and writes. */
  readonly storage: Storage;
  /** The prefix of every key (`"users/"`). */
  readonly prefix: string;
  /** The value of `prefix + id`; `StorageNotFoundError` when it is missing. */
  get(id: string, opts?: OperationOptions): Promise<T>;
  /** Stores `value` under `prefix + id`; `T` must be JSON (see `Jsonable`) or a stored value type. */
  put(id: string, value: T & PutValue<T>, opts?: PutOptions): Promise<ObjectInfo>;
  /** Deletes `prefix + id` (a missing key succeeds). */
  delete(id: string, opts?: OperationOptions): Promise<void>;
  /** Whether `prefix + id` holds a value. */
  exists(id: string, opts?: OperationOptions): Promise<boolean>;
  /** The ids in the space (keys without the prefix), sorted as `list` sorts keys. */
  list(opts?: OperationOptions): Promise<string[]>;
}

/**
 * A typed view of the keys under `prefix`: `keySpace<User>(storage, "users/")`, then
 * `users.get("ada")` is a `Promise<User>` and `users.put("ada", value)` checks `value` is a
 * `User`. Works on any `Storage` (layers and stacks from `createStorage` included).
 *
 * @example
 * interface User { name: string; age: number }
 * const users = keySpace<User>(storage, "users/");
 * await users.put("ada", { name: "Ada", age: 36 });
 * const ada = await users.get("ada"); // User
 */
export function keySpace<T>(storage: Storage, prefix: string): KeySpace<T> {
  if (typeof prefix !== "string") throw new StorageValidationError("Invalid prefix: expected a string", { operation: "keySpace" });
  const key = (id: string) => prefix + id;
  return {
    storage,
    prefix,
    get: (id, opts) => storage.get<T>(key(id), opts),
    put: (id, value, opts) => storage.put<T>(key(id), value, opts),
    delete: (id, opts) => storage.delete(key(id), opts),
    exists: (id, opts) => storage.exists(key(id), opts),
    list: async (opts) => (await storage.list(prefix, opts)).map((k) => k.slice(prefix.length)),
  };
}
