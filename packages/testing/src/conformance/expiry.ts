import { Readable } from "node:stream";
import { type Storage, StorageConflictError, StorageNotFoundError, StorageValidationError, readEntry } from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type CaseContext, type ConformanceCase, collect, expectRejects, readAll } from "./helpers.js";

// Expiry (SPEC §11). Every case moves the case's clock (`ctx.clock.advance`), which the
// factory handed to the storage: with the injected clock nothing sleeps; with the real one
// (`expiryClock: "real"`) `ttl` is short and `advance` sleeps.

/** Checks that `key` is absent to every read. */
async function expectAbsent(storage: Storage, key: string, when: string): Promise<void> {
  const what = (call: string) => `${call} ${when}`;
  await expectRejects(storage.get(key), StorageNotFoundError, what(`get(${JSON.stringify(key)})`));
  await expectRejects(storage.getBytes(key), StorageNotFoundError, what("getBytes"));
  await expectRejects(storage.getText(key), StorageNotFoundError, what("getText"));
  await expectRejects(readEntry(storage, key), StorageNotFoundError, what("readEntry"));
  await expectRejects(storage.getStream(key), StorageNotFoundError, what("getStream"));
  await expectRejects(storage.getStream(key, { start: 0, end: 0 }), StorageNotFoundError, what("getStream(range)"));
  await expectRejects(storage.stat(key), StorageNotFoundError, what("stat"));
  expect(await storage.exists(key), what("exists")).toBe(false);
  expect(await storage.getMany([key]), what("getMany")).toStrictEqual([undefined]);
}

/** Every key under the prefix, by `list`, `iterate` (small pages) and `listPage` — which must agree. */
async function listAllWays(storage: Storage, prefix: string): Promise<string[]> {
  const listed = await storage.list(prefix);
  const iterated = (await collect(storage.iterate(prefix, { pageSize: 2 }))).map((e) => e.key);
  const paged: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.listPage(prefix, { limit: 2, cursor });
    if (page.cursor !== undefined) expect(page.items.length, "a listPage page with a cursor must not be empty").toBeGreaterThan(0);
    paged.push(...page.items.map((e) => e.key));
    cursor = page.cursor;
  } while (cursor !== undefined);
  expect(iterated, "iterate agrees with list").toStrictEqual(listed);
  expect(paged, "listPage agrees with list").toStrictEqual(listed);
  return listed;
}

async function withTtl({ storage, key, ttl }: CaseContext, name: string, value: unknown = "v"): Promise<string> {
  const k = key(name);
  await storage.put(k, value as string, { ttl });
  return k;
}

export const expiryCases: ConformanceCase[] = [
  {
    name: "expiry: a value put with ttl is readable until its deadline and absent to every read from it on",
    async run(ctx) {
      const { storage, clock, ttl } = ctx;
      const k = await withTtl(ctx, "k", "hello");
      expect(await storage.get(k)).toBe("hello");
      expect(await storage.exists(k)).toBe(true);
      await clock.advance(ttl / 2);
      expect(await storage.get(k), "half-way to its deadline the value is still there").toBe("hello");
      expect(await storage.exists(k)).toBe(true);
      await clock.advance(ttl / 2 + (clock.kind === "real" ? 250 : 0));
      await expectAbsent(storage, k, "from its deadline on");
    },
  },
  {
    name: "expiry: expiresAt sets the deadline; put and stat show expiresAt",
    async run({ storage, key, clock, ttl }) {
      const k = key("k");
      const deadline = new Date(clock.now() + ttl);
      const info = await storage.put(k, { a: 1 }, { expiresAt: deadline });
      expect(info.expiresAt?.getTime(), "put resolves to info with expiresAt").toBe(deadline.getTime());
      const stat = await storage.stat(k);
      expect(stat.expiresAt, "stat shows expiresAt").toBeInstanceOf(Date);
      expect(stat.expiresAt!.getTime()).toBe(deadline.getTime());
      expect((await readEntry(storage, k)).info.expiresAt?.getTime(), "getEntry's info shows expiresAt").toBe(deadline.getTime());
      const plain = key("plain");
      await storage.put(plain, "x");
      expect((await storage.stat(plain)).expiresAt, "a value put without ttl has no expiresAt").toBeUndefined();
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      await expectAbsent(storage, k, "after its expiresAt");
      expect(await storage.get(plain)).toBe("x");
    },
  },
  {
    name: "expiry: strings, bytes, JSON and streamed values all expire",
    async run({ storage, key, clock, ttl }) {
      const bytes = Buffer.from([0, 1, 2, 255]);
      await storage.put(key("s"), "text", { ttl });
      await storage.put(key("b"), bytes, { ttl });
      await storage.put(key("j"), { n: [1, 2] }, { ttl });
      await storage.put(key("r"), Readable.from([Buffer.from("str"), Buffer.from("eam")]), { ttl });
      expect(await storage.get(key("s"))).toBe("text");
      expect(Buffer.from((await storage.get(key("b"))) as Uint8Array).equals(bytes)).toBe(true);
      expect(await storage.get(key("j"))).toStrictEqual({ n: [1, 2] });
      expect((await readAll(await storage.getStream(key("r")))).toString()).toBe("stream");
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      for (const n of ["s", "b", "j", "r"]) await expectAbsent(storage, key(n), `(${n}) after its ttl`);
    },
  },
  {
    name: "expiry: expired keys are left out of list, listPage and iterate",
    async run({ storage, prefix, key, clock, ttl }) {
      await storage.put(key("a"), "1", { ttl });
      await storage.put(key("b"), "2");
      await storage.put(key("c"), "3", { ttl: 3 * ttl });
      await storage.put(key("d"), "4", { ttl });
      await storage.put(key("e"), "5", { ttl });
      expect(await listAllWays(storage, prefix)).toStrictEqual(["a", "b", "c", "d", "e"].map(key));
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      // With pages of two, whole pages of expired entries ("d", "e") come up.
      expect(await listAllWays(storage, prefix), "after the first deadline").toStrictEqual([key("b"), key("c")]);
      await clock.advance(2 * ttl);
      expect(await listAllWays(storage, prefix), "after the second deadline").toStrictEqual([key("b")]);
    },
  },
  {
    name: "expiry: putMany with ttl, getMany returns undefined for expired keys",
    async run({ storage, key, clock, ttl }) {
      await storage.putMany([[key("a"), "1"], [key("b"), "2"]], { ttl });
      await storage.put(key("c"), "3");
      expect(await storage.getMany([key("a"), key("b"), key("c")])).toStrictEqual(["1", "2", "3"]);
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      expect(await storage.getMany([key("a"), key("b"), key("c")])).toStrictEqual([undefined, undefined, "3"]);
    },
  },
  {
    name: "expiry: copy and move keep the deadline; an expired source is missing to them",
    async run({ storage, key, clock, ttl }) {
      const src = key("src");
      await storage.put(src, "v", { ttl });
      const deadline = (await storage.stat(src)).expiresAt!.getTime();
      await storage.copy(src, key("copy"));
      expect((await storage.stat(key("copy"))).expiresAt?.getTime(), "a copy keeps the deadline").toBe(deadline);
      await storage.put(key("m"), "m", { expiresAt: new Date(deadline) });
      await storage.move(key("m"), key("moved"));
      expect((await storage.stat(key("moved"))).expiresAt?.getTime(), "a moved value keeps the deadline").toBe(deadline);
      await storage.put(key("dst"), "keep");
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      await expectAbsent(storage, key("copy"), "(the copy) after the deadline");
      await expectAbsent(storage, key("moved"), "(the moved value) after the deadline");
      await expectRejects(storage.copy(src, key("dst")), StorageNotFoundError, "copy from an expired key");
      await expectRejects(storage.move(src, key("dst")), StorageNotFoundError, "move from an expired key");
      expect(await storage.get(key("dst")), "a failed copy or move leaves the target alone").toBe("keep");
    },
  },
  {
    name: "expiry: a put replaces the deadline (without ttl the new value never expires)",
    async run({ storage, key, clock, ttl }) {
      await storage.put(key("a"), "old", { ttl });
      await storage.put(key("a"), "new");
      await storage.put(key("b"), "old", { ttl });
      await storage.put(key("b"), "new", { ttl: 3 * ttl });
      await storage.put(key("c"), "forever", { ttl: Number.POSITIVE_INFINITY });
      expect((await storage.stat(key("a"))).expiresAt, "a put without ttl clears the deadline").toBeUndefined();
      expect((await storage.stat(key("c"))).expiresAt, "ttl: Infinity stores no deadline").toBeUndefined();
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      expect(await storage.get(key("a"))).toBe("new");
      expect(await storage.get(key("b")), "the later deadline counts").toBe("new");
      expect(await storage.get(key("c"))).toBe("forever");
    },
  },
  {
    name: "expiry: a key written again after it expired is a new, live value",
    async run({ storage, key, clock, ttl }) {
      await storage.put(key("a"), "1", { ttl });
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      await expectAbsent(storage, key("a"), "after its ttl");
      await storage.put(key("a"), "2");
      expect(await storage.get(key("a"))).toBe("2");
      expect(await storage.exists(key("a"))).toBe(true);
    },
  },
  {
    name: "expiry: purgeExpired deletes expired keys under the prefix only and returns the count",
    async run({ storage, prefix, key, clock, ttl }) {
      await storage.putMany([[key("p/a"), "1"], [key("p/b"), "2"], [key("p/c"), "3"], [key("q/a"), "4"]], { ttl });
      await storage.put(key("p/later"), "5", { ttl: 3 * ttl });
      await storage.put(key("p/never"), "6");
      expect(await storage.purgeExpired(key("p/")), "nothing has expired yet").toBe(0);
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      // Rewritten after it expired and before the purge: kept.
      await storage.put(key("p/c"), "new");
      expect(await storage.purgeExpired(key("p/")), "p/a and p/b expired").toBe(2);
      expect(await storage.purgeExpired(key("p/")), "a second purge finds nothing").toBe(0);
      expect(await storage.get(key("p/c"))).toBe("new");
      expect(await storage.list(prefix)).toStrictEqual([key("p/c"), key("p/later"), key("p/never")]);
      // The key outside the prefix is hidden but was not purged: a purge of its prefix finds it.
      expect(await storage.purgeExpired(key("q/"))).toBe(1);
      await clock.advance(2 * ttl);
      expect(await storage.purgeExpired(prefix)).toBe(1);
      expect(await storage.list(prefix)).toStrictEqual([key("p/c"), key("p/never")]);
    },
  },
  {
    name: "expiry: invalid ttl or expiresAt rejects with StorageValidationError and stores nothing",
    async run({ storage, key, clock, ttl }) {
      const k = key("k");
      const bad: [string, Record<string, unknown>][] = [
        ["ttl: 0", { ttl: 0 }],
        ["ttl: -1", { ttl: -1 }],
        ["ttl: NaN", { ttl: Number.NaN }],
        ['ttl: "60s"', { ttl: "60s" }],
        ["expiresAt: an invalid Date", { expiresAt: new Date(Number.NaN) }],
        ["expiresAt: a number", { expiresAt: clock.now() + ttl }],
        ["expiresAt: in the past", { expiresAt: new Date(clock.now() - 1000) }],
        ["ttl and expiresAt together", { ttl, expiresAt: new Date(clock.now() + ttl) }],
      ];
      for (const [what, opts] of bad) await expectRejects(storage.put(k, "v", opts), StorageValidationError, `put with ${what}`);
      expect(await storage.exists(k), "nothing was stored").toBe(false);
    },
  },
  {
    name: "expiry: ifNoneMatch '*' creates over an expired value; ifMatch on an expired value fails",
    requires: { capability: "conditionalWrite" },
    async run({ storage, key, clock, ttl }) {
      const lock = key("lock");
      const first = await storage.put(lock, "a", { ttl, ifNoneMatch: "*" });
      await expectRejects(storage.put(lock, "b", { ttl, ifNoneMatch: "*" }), StorageConflictError, "a second create while the first is live");
      await clock.advance(ttl + (clock.kind === "real" ? 250 : 0));
      await expectRejects(storage.put(lock, "x", { ifMatch: first.etag! }), StorageConflictError, "ifMatch on an expired value");
      // A lock with a TTL: once it expired, the next create-only write takes it.
      await storage.put(lock, "b", { ttl, ifNoneMatch: "*" });
      expect(await storage.get(lock)).toBe("b");
    },
  },
];
