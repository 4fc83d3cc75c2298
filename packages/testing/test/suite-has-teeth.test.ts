import {
  BaseStorage,
  type DriverContext,
  type ListPage,
  type ObjectInfo,
  type StorageDriver,
  type StoredEntry,
  type WriteRequest,
} from "@pepperpy/storage-core";
import { describe, expect, it } from "vitest";
import {
  type ConformanceCase,
  type ConformanceClock,
  conformanceCaseNames,
  conformanceCases,
  describeStorageConformance,
  manualClock,
  randomPrefix,
} from "../src/index.js";

/** Bugs a backend might have; each must make at least one conformance case fail. */
interface Bugs {
  utf16Order?: boolean;
  sharesBuffers?: boolean;
  listStopsAt1000?: boolean;
  dropsMetadata?: boolean;
  storesPartialStreams?: boolean;
  ignoresRangeEnd?: boolean;
  cursorIncludesLastKey?: boolean;
  /** Does not store `req.expiresAt` (values never expire). */
  dropsDeadline?: boolean;
  /** Stores the deadline but leaves it out of list entries. */
  listOmitsDeadline?: boolean;
}

/** A deliberately simple backend with switchable bugs. */
class ToyDriver implements StorageDriver {
  readonly name = "toy";
  readonly capabilities = { rangeRead: false, conditionalWrite: false, serverSideCopy: false, keyIsAlsoPrefix: true, durable: false, persistent: false };
  private readonly data = new Map<string, StoredEntry>();
  constructor(private readonly bugs: Bugs) {}

  async read(key: string): Promise<StoredEntry | undefined> {
    const e = this.data.get(key);
    if (!e) return undefined;
    return this.bugs.sharesBuffers ? e : { info: { ...e.info, metadata: { ...e.info.metadata } }, data: Buffer.from(e.data) };
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    const e = this.data.get(key);
    return e && { ...e.info, metadata: { ...e.info.metadata } };
  }
  async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    let data: Buffer;
    if (req.body instanceof Uint8Array) data = Buffer.from(req.body);
    else {
      const chunks: Buffer[] = [];
      try {
        for await (const c of req.body) {
          chunks.push(Buffer.from(c));
          if (this.bugs.storesPartialStreams) this.set(key, Buffer.concat(chunks), req);
          ctx.signal.throwIfAborted();
        }
      } catch (error) {
        if (!this.bugs.storesPartialStreams) throw error;
      }
      data = Buffer.concat(chunks);
      ctx.signal.throwIfAborted();
    }
    return this.set(key, data, req);
  }
  private set(key: string, data: Buffer, req: WriteRequest): ObjectInfo {
    const info: ObjectInfo = {
      key,
      size: data.byteLength,
      lastModified: new Date(),
      contentType: req.contentType,
      metadata: this.bugs.dropsMetadata ? {} : { ...req.metadata },
      valueType: req.valueType,
      expiresAt: this.bugs.dropsDeadline || req.expiresAt === undefined ? undefined : new Date(req.expiresAt),
    };
    this.data.set(key, { info, data: this.bugs.sharesBuffers ? (req.body as Buffer) : data });
    return info;
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async list(prefix: string, page: { cursor?: string | undefined; limit: number }): Promise<ListPage> {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix));
    keys.sort(this.bugs.utf16Order ? undefined : (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const after = page.cursor;
    let from = after === undefined ? keys : keys.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0);
    if (this.bugs.cursorIncludesLastKey && after !== undefined) from = [after, ...from].filter((k) => this.data.has(k));
    const items = from.slice(0, page.limit).map((k) => {
      const info = this.data.get(k)!.info;
      return { key: k, size: info.size, lastModified: info.lastModified, expiresAt: this.bugs.listOmitsDeadline ? undefined : info.expiresAt };
    });
    const more = !this.bugs.listStopsAt1000 && from.length > page.limit;
    return more ? { items, cursor: items[items.length - 1]!.key } : { items };
  }
  async readStream(key: string, range: { start?: number | undefined; end?: number | undefined }) {
    const e = await this.read(key);
    if (!e) return undefined;
    const { Readable } = await import("node:stream");
    const end = this.bugs.ignoresRangeEnd || range.end === undefined ? e.data.byteLength : range.end + 1;
    return { info: e.info, stream: Readable.from([Buffer.from(e.data).subarray(range.start ?? 0, end)]) };
  }
}

function toy(bugs: Bugs = {}, clock?: ConformanceClock): BaseStorage {
  return new BaseStorage(new ToyDriver(bugs), { clock: clock?.now });
}

function find(name: string): ConformanceCase {
  const c = conformanceCases.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c;
}

async function runCase(name: string, bugs: Bugs): Promise<void> {
  const clock = manualClock();
  const storage = toy(bugs, clock);
  const prefix = randomPrefix();
  await find(name).run({ storage, prefix, key: (n) => prefix + n, clock, ttl: 60_000 });
}

const catches: [keyof Bugs, string][] = [
  ["utf16Order", "list: code-point order with astral characters (UTF-8 byte order, as S3)"],
  // (Mutating the caller's buffer after put cannot leak in: the core copies it before the driver sees it.)
  ["sharesBuffers", "isolation: changing bytes returned by get does not change what is stored"],
  ["listStopsAt1000", "pagination: more than 1000 keys are all listed"],
  ["dropsMetadata", "stat: contentType and metadata persist"],
  ["dropsMetadata", "copy: copies the value with its type, content type and metadata"],
  ["storesPartialStreams", "put streams: a stream that fails stores nothing"],
  ["storesPartialStreams", "abort: aborting a streamed put midway rejects with StorageAbortedError and stores nothing"],
  ["ignoresRangeEnd", "streams: ranges with start, inclusive end, and both"],
  ["cursorIncludesLastKey", "pagination: listPage with limit 7 over 20 keys"],
  ["dropsDeadline", "expiry: a value put with ttl is readable until its deadline and absent to every read from it on"],
  ["dropsDeadline", "expiry: expiresAt sets the deadline; put and stat show expiresAt"],
  ["dropsDeadline", "expiry: copy and move keep the deadline; an expired source is missing to them"],
  ["dropsDeadline", "expiry: purgeExpired deletes expired keys under the prefix only and returns the count"],
  ["listOmitsDeadline", "expiry: expired keys are left out of list, listPage and iterate"],
  ["listOmitsDeadline", "expiry: purgeExpired deletes expired keys under the prefix only and returns the count"],
];

describe("the conformance suite catches backend bugs", () => {
  for (const [bug, name] of catches) {
    it(`${bug} fails "${name}"`, async () => {
      await runCase(name, {});
      await expect(runCase(name, { [bug]: true })).rejects.toThrow();
    });
  }
});

describe("the conformance suite's own contract", () => {
  it("has at least 80 cases with unique, stable names", () => {
    expect(conformanceCaseNames.length).toBeGreaterThanOrEqual(80);
    expect(new Set(conformanceCaseNames).size).toBe(conformanceCaseNames.length);
    expect(conformanceCaseNames).toContain("values: string empty round-trips as a string");
  });

  it("rejects an unknown name in the skip map", () => {
    expect(() => describeStorageConformance("x", () => toy(), { skip: { "no such case": "reason" } })).toThrow(/unknown case name/);
  });

  it("failure messages say what was expected", async () => {
    const error = await runCase("values: rejects a Date with StorageValidationError", {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeUndefined();
    const rejection = await runCase("pagination: more than 1000 keys are all listed", { listStopsAt1000: true }).catch((e: Error) => e);
    expect(String(rejection)).toMatch(/list must not stop at 1000 keys/);
  });
});

// A backend that lacks capabilities gets them skipped by name, and passes the rest.
describeStorageConformance("toy backend", ({ clock }) => toy({}, clock));
