// The backend of docs/writing-a-backend.md, compiled and tested by packages/storage/test/docs-examples.test.ts.
import {
  BaseStorage,
  type BaseStorageOptions,
  compareKeys,
  type DriverContext,
  type ListPage,
  type ObjectInfo,
  type StorageDriver,
  type StoredEntry,
  type WriteRequest,
  definePlugin,
  registerStorage,
  StorageConflictError,
} from "@pepperpy/storage";

const spaces = new Map<string, Map<string, StoredEntry>>();

class SharedMapDriver implements StorageDriver {
  readonly name = "shared-map";
  readonly capabilities = {
    rangeRead: false, conditionalWrite: true, serverSideCopy: false,
    keyIsAlsoPrefix: true, durable: false, persistent: false,
    // In memory: calls resolve in microtasks (the fairness cases are skipped, by name).
    yieldsToEventLoop: false,
  };
  private readonly map: Map<string, StoredEntry>;
  private version = 0;

  constructor(space: string) {
    this.map = spaces.get(space) ?? new Map();
    spaces.set(space, this.map);
  }

  // Hand out copies: a caller changing what it got must not change what is stored.
  async read(key: string): Promise<StoredEntry | undefined> {
    const e = this.map.get(key);
    return e && { info: { ...e.info, metadata: { ...e.info.metadata } }, data: Buffer.from(e.data) };
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const e = this.map.get(key);
    return e && { ...e.info, metadata: { ...e.info.metadata } };
  }

  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    const chunks: Uint8Array[] = [];
    if (req.body instanceof Uint8Array) chunks.push(req.body);
    else for await (const c of req.body) chunks.push(c);
    ctx.signal.throwIfAborted(); // nothing half-done after an abort
    const previous = this.map.get(key);
    if (req.ifNoneMatch === "*" && previous) throw new StorageConflictError("Key already exists");
    if (req.ifMatch !== undefined && previous?.info.etag !== req.ifMatch) throw new StorageConflictError("Etag mismatch");
    const data = Buffer.concat(chunks);
    const info: ObjectInfo = {
      key, size: data.byteLength, lastModified: new Date(), etag: `"${++this.version}"`,
      contentType: req.contentType, metadata: req.metadata, valueType: req.valueType,
      // Expiry: keep the deadline the core resolved, and hand it back; the core hides what expired.
      expiresAt: req.expiresAt === undefined ? undefined : new Date(req.expiresAt),
    };
    this.map.set(key, { info, data });
    return info;
  }

  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }

  async list(prefix: string, page: { cursor?: string; limit: number }): Promise<ListPage> {
    const keys = [...this.map.keys()]
      .filter((k) => k.startsWith(prefix) && (page.cursor === undefined || compareKeys(k, page.cursor) > 0))
      .sort(compareKeys);
    const items = keys.slice(0, page.limit).map((k) => {
      const { size, lastModified, etag, expiresAt } = this.map.get(k)!.info;
      return { key: k, size, lastModified, etag, expiresAt }; // the deadline goes with every entry
    });
    return keys.length > page.limit ? { items, cursor: items[items.length - 1]!.key } : { items };
  }
}

/** Values in a process-wide map shared by `space`. */
export class SharedMapStorage extends BaseStorage {
  constructor(space: string, options?: BaseStorageOptions) {
    super(new SharedMapDriver(space), options);
  }
}

// `type: shared-map` in YAML or createStorage({ type: "shared-map", space: "x" }).
// Declaration merging makes the type and its fields known to the compiler too, so
// createStorage({ type: "shared-map" }) without `space` does not compile.
declare module "@pepperpy/storage-core" {
  interface StorageConfigTypes {
    "shared-map": { space: string };
  }
}
// definePlugin types `create`'s config from `fields` and `required`: `config.space` is a
// string, no cast.
registerStorage(
  definePlugin({
    type: "shared-map",
    fields: { space: "string" },
    required: ["space"],
    create: (config) => new SharedMapStorage(config.space, { timeout: config.timeout, maxSize: config.maxSize }),
  }),
);
