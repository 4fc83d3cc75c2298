import { type DriverContext, ForwardingDriver, LayerStorage, type ListPage, type ListPageRequest, StorageIntegrityError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, expect, it } from "vitest";

// Issue 15 item 6: listings are checked, not trusted. A backend that misorders a page
// (as some S3-compatible servers do) makes paging repeat keys and drop others; the core
// fails loudly instead.

/** A backend whose pages come back in the wrong order (or overlapping the cursor). */
class MisorderedPages extends ForwardingDriver {
  constructor(
    inner: MemoryStorage,
    private readonly mangle: (page: ListPage, request: ListPageRequest) => ListPage,
  ) {
    super(inner, "misordered");
  }
  override async list(prefix: string, page: ListPageRequest, ctx: DriverContext): Promise<ListPage> {
    return this.mangle(await super.list(prefix, page, ctx), page);
  }
}

async function seeded(): Promise<MemoryStorage> {
  const memory = new MemoryStorage();
  await memory.putMany(["k/a", "k/b", "k/c", "k/d", "k/e"].map((k) => [k, k] as const));
  return memory;
}

async function drain(iterable: AsyncIterable<{ key: string }>, into: string[]): Promise<unknown> {
  try {
    for await (const entry of iterable) into.push(entry.key);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("listing order is checked", () => {
  it("a page in reverse order fails iterate with StorageIntegrityError before any entry of it is yielded", async () => {
    const storage = new LayerStorage(new MisorderedPages(await seeded(), (p) => ({ ...p, items: [...p.items].reverse() })));
    const seen: string[] = [];
    const error = await drain(storage.iterate("k/", { pageSize: 2 }), seen);
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect((error as StorageIntegrityError).message).toContain("misordered(memory)");
    expect(seen).toStrictEqual([]);
    await expect(storage.list("k/")).rejects.toBeInstanceOf(StorageIntegrityError);
  });

  it("a page that starts at or before the cursor fails instead of repeating keys", async () => {
    // The second page repeats the first page's last key.
    const storage = new LayerStorage(
      new MisorderedPages(await seeded(), (p, req) => (req.cursor === "k/b" ? { ...p, items: [{ key: "k/b", size: 3, lastModified: new Date() }, ...p.items] } : p)),
    );
    const seen: string[] = [];
    const error = await drain(storage.iterate("k/", { pageSize: 2 }), seen);
    expect(error).toBeInstanceOf(StorageIntegrityError);
    expect(seen).toStrictEqual(["k/a", "k/b"]);
  });

  it("a key outside the prefix fails the page", async () => {
    const storage = new LayerStorage(
      new MisorderedPages(await seeded(), (p) => ({ ...p, items: [...p.items, { key: "other", size: 1, lastModified: new Date() }] })),
    );
    await expect(storage.listPage("k/")).rejects.toBeInstanceOf(StorageIntegrityError);
  });

  it("a well-ordered backend pages through every key once", async () => {
    const storage = new LayerStorage(new MisorderedPages(await seeded(), (p) => p));
    const seen: string[] = [];
    expect(await drain(storage.iterate("k/", { pageSize: 2 }), seen)).toBeUndefined();
    expect(seen).toStrictEqual(["k/a", "k/b", "k/c", "k/d", "k/e"]);
  });
});
