import type { ListPage, Storage } from "@pepperpy/storage-core";
import { expect } from "vitest";
import { type ConformanceCase, byCodePoint, collect } from "./helpers.js";

async function putAll(storage: Storage, keys: readonly string[]): Promise<void> {
  await storage.putMany(keys.map((k) => [k, "x"] as const));
}

/** Walks every page of `listPage`, checking the page contract on the way. */
async function walkPages(storage: Storage, prefix: string, limit: number): Promise<{ keys: string[]; pages: ListPage[] }> {
  const keys: string[] = [];
  const pages: ListPage[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = await storage.listPage(prefix, { limit, cursor });
    pages.push(page);
    expect(page.items.length, `listPage(limit ${limit}) returned ${page.items.length} items`).toBeLessThanOrEqual(limit);
    for (const item of page.items) keys.push(item.key);
    if (page.cursor === undefined) return { keys, pages };
    expect(page.items.length, "a page with a cursor must not be empty").toBeGreaterThan(0);
    expect(page.cursor, "a page's cursor is the last key of the page").toBe(page.items[page.items.length - 1]!.key);
    cursor = page.cursor;
  }
  throw new Error("listPage never ended (10 000 pages)");
}

function numbered(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}k${String(i).padStart(5, "0")}`);
}

export const listingCases: ConformanceCase[] = [
  {
    name: "list: returns full keys sorted, under the prefix only",
    async run({ storage, prefix }) {
      const keys = [`${prefix}b`, `${prefix}a/2`, `${prefix}a/1`, `${prefix}c/d/e`];
      await putAll(storage, keys);
      expect(await storage.list(prefix)).toStrictEqual([...keys].sort(byCodePoint));
    },
  },
  {
    name: "list: code-point order with '/', '.', '-', digits and case",
    async run({ storage, prefix }) {
      // "a" next to "a/b" needs keyIsAlsoPrefix (not on file systems).
      const names = ["a0", "a/b", "a.b", "a-b", "B", "b", "a~", "A", ...(storage.capabilities.keyIsAlsoPrefix ? ["a"] : [])];
      const expected = names.map((n) => prefix + n);
      await putAll(storage, expected);
      expect(await storage.list(prefix)).toStrictEqual(expected.sort(byCodePoint));
    },
  },
  {
    name: "list: code-point order with astral characters (UTF-8 byte order, as S3)",
    async run({ storage, prefix }) {
      // UTF-16 order would put U+E000 and U+FFFD after the emoji; code-point order puts them before.
      const names = ["😀", "\ue000", "\ufffd", "z", "é", "𝄞", "ÿ"];
      const keys = names.map((n) => prefix + n);
      await putAll(storage, keys);
      const expected = [...keys].sort(byCodePoint);
      expect(await storage.list(prefix)).toStrictEqual(expected);
      expect((await collect(storage.iterate(prefix, { pageSize: 2 }))).map((e) => e.key)).toStrictEqual(expected);
    },
  },
  {
    name: "list: a partial segment prefix matches by string prefix",
    async run({ storage, prefix }) {
      await putAll(storage, [`${prefix}abc`, `${prefix}ab/x`, `${prefix}a/b`, `${prefix}abd`, `${prefix}b`]);
      expect(await storage.list(`${prefix}ab`)).toStrictEqual([`${prefix}ab/x`, `${prefix}abc`, `${prefix}abd`]);
    },
  },
  {
    name: "list: a prefix ending in '/' matches only keys under it",
    async run({ storage, prefix }) {
      await putAll(storage, [`${prefix}ab/x`, `${prefix}ab/y/z`, `${prefix}abc`, `${prefix}ab-c`]);
      expect(await storage.list(`${prefix}ab/`)).toStrictEqual([`${prefix}ab/x`, `${prefix}ab/y/z`]);
    },
  },
  {
    name: "list: the empty prefix lists every key",
    async run({ storage, prefix }) {
      const keys = [`${prefix}one`, `${prefix}two/three`];
      await putAll(storage, keys);
      const all = await storage.list();
      expect(all, "list() must include every stored key").toEqual(expect.arrayContaining(keys));
      expect(await storage.list(""), 'list("") equals list()').toStrictEqual(all);
      expect([...all].sort(byCodePoint), "list() must be sorted").toStrictEqual(all);
    },
  },
  {
    name: "list: a prefix that matches nothing gives an empty list",
    async run({ storage, prefix }) {
      await putAll(storage, [`${prefix}a`]);
      expect(await storage.list(`${prefix}zzz`)).toStrictEqual([]);
      expect(await storage.listPage(`${prefix}zzz`)).toMatchObject({ items: [] });
      expect(await collect(storage.iterate(`${prefix}zzz`))).toStrictEqual([]);
    },
  },
  {
    name: "list: a prefix is a plain string, not a pattern",
    async run({ storage, prefix }) {
      await putAll(storage, [`${prefix}a*b`, `${prefix}axb`, `${prefix}a.c`, `${prefix}abc`, `${prefix}a%b`]);
      expect(await storage.list(`${prefix}a*`)).toStrictEqual([`${prefix}a*b`]);
      expect(await storage.list(`${prefix}a.`)).toStrictEqual([`${prefix}a.c`]);
      expect(await storage.list(`${prefix}a%`)).toStrictEqual([`${prefix}a%b`]);
    },
  },
  {
    name: "list: deleted keys disappear and overwritten keys appear once",
    async run({ storage, prefix }) {
      await putAll(storage, [`${prefix}a`, `${prefix}b`, `${prefix}c`]);
      await storage.put(`${prefix}b`, "again");
      await storage.delete(`${prefix}a`);
      expect(await storage.list(prefix)).toStrictEqual([`${prefix}b`, `${prefix}c`]);
    },
  },
  {
    name: "iterate: entries carry key, size and lastModified in key order",
    async run({ storage, prefix }) {
      await storage.put(`${prefix}b`, "four");
      await storage.put(`${prefix}a`, Buffer.alloc(10));
      const entries = await collect(storage.iterate(prefix));
      expect(entries.map((e) => [e.key, e.size])).toStrictEqual([
        [`${prefix}a`, 10],
        [`${prefix}b`, 4],
      ]);
      for (const e of entries) {
        expect(e.lastModified, "lastModified must be a Date").toBeInstanceOf(Date);
        expect(Number.isNaN(e.lastModified.getTime()), "lastModified must be a valid date").toBe(false);
      }
    },
  },
  {
    name: "pagination: listPage with limit 1 walks every key once",
    async run({ storage, prefix }) {
      const keys = numbered(prefix, 5);
      await putAll(storage, keys);
      expect((await walkPages(storage, prefix, 1)).keys).toStrictEqual(keys);
    },
  },
  {
    name: "pagination: listPage with limit 7 over 20 keys",
    async run({ storage, prefix }) {
      const keys = numbered(prefix, 20);
      await putAll(storage, keys);
      const { keys: got, pages } = await walkPages(storage, prefix, 7);
      expect(got).toStrictEqual(keys);
      expect(pages[0]!.items).toHaveLength(7);
    },
  },
  {
    name: "pagination: an exact multiple of the page size ends without losing or repeating keys",
    async run({ storage, prefix }) {
      const keys = numbered(prefix, 21);
      await putAll(storage, keys);
      const { keys: got, pages } = await walkPages(storage, prefix, 7);
      expect(got).toStrictEqual(keys);
      // A last page may be empty (the cursor said "maybe more"), never more than one.
      expect(pages.length).toBeLessThanOrEqual(4);
    },
  },
  {
    name: "pagination: iterate with pageSize 1 and 7 yields every key in order",
    async run({ storage, prefix }) {
      const keys = numbered(prefix, 15);
      await putAll(storage, keys);
      for (const pageSize of [1, 7, 15, 100]) {
        const got = (await collect(storage.iterate(prefix, { pageSize }))).map((e) => e.key);
        expect(got, `iterate with pageSize ${pageSize}`).toStrictEqual(keys);
      }
    },
  },
  {
    name: "pagination: listPage starts strictly after the cursor key, which need not exist",
    async run({ storage, prefix }) {
      await putAll(storage, [`${prefix}a`, `${prefix}b`, `${prefix}c`, `${prefix}d`]);
      expect((await storage.listPage(prefix, { cursor: `${prefix}b` })).items.map((e) => e.key)).toStrictEqual([`${prefix}c`, `${prefix}d`]);
      expect((await storage.listPage(prefix, { cursor: `${prefix}bb` })).items.map((e) => e.key)).toStrictEqual([`${prefix}c`, `${prefix}d`]);
      expect((await storage.listPage(prefix, { cursor: `${prefix}d` })).items).toStrictEqual([]);
    },
  },
  {
    // The core refuses a page that breaks this (StorageIntegrityError): paging resumes after
    // a page's last key, so a misordered page would repeat some keys and drop others.
    name: "pagination: every page's keys strictly increase past the cursor",
    async run({ storage, prefix }) {
      const keys = ["a", "a0", "b/c", "b/d/e", "bz", "c", "c0/x", "d"].map((k) => prefix + k);
      await putAll(storage, keys);
      for (const limit of [1, 2, 3, 5]) {
        const { pages } = await walkPages(storage, prefix, limit);
        let previous: string | undefined;
        for (const page of pages) {
          for (const { key } of page.items) {
            if (previous !== undefined) expect(byCodePoint(previous, key), `listPage(limit ${limit}): ${JSON.stringify(key)} after ${JSON.stringify(previous)}`).toBeLessThan(0);
            previous = key;
          }
        }
        expect(previous, `listPage(limit ${limit}) ends at the last key`).toBe(keys[keys.length - 1]);
      }
    },
  },
  {
    name: "pagination: more than 1000 keys are all listed",
    timeout: 120_000,
    async run({ storage, prefix }) {
      const keys = numbered(prefix, 1005);
      await storage.putMany(
        keys.map((k) => [k, ""] as const),
        { concurrency: 32 },
      );
      const listed = await storage.list(prefix);
      expect(listed.length, "list must not stop at 1000 keys").toBe(1005);
      expect(listed).toStrictEqual(keys);
      const first = await storage.listPage(prefix);
      expect(first.items.length, "listPage's default limit is at most 1000").toBeLessThanOrEqual(1000);
      expect(first.cursor, "a first page of 1005 keys must have a cursor").toBeDefined();
      expect((await collect(storage.iterate(prefix))).length).toBe(1005);
    },
  },
];
