/**
 * Proof: no key leads outside basePath. A table of hostile keys runs through every
 * operation, then 10,000 random keys (fast-check); each is rejected with
 * StorageValidationError or lands strictly inside basePath — checked on the real file
 * system: the tree around the base (including the sibling `data-evil`) is unchanged.
 */
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { StorageValidationError, isStorageError } from "@pepperpy/storage-core";
import { FileStorage } from "@pepperpy/storage-fs";
import fc from "fast-check";
import { afterAll, expect, it } from "vitest";

const root = realpathSync(mkdtempSync(join(tmpdir(), "pepperpy-fs-contain-")));
const base = join(root, "data");
mkdirSync(join(root, "data-evil"), { recursive: true });
writeFileSync(join(root, "data-evil", "secret"), "evil");
mkdirSync(join(root, "outside"), { recursive: true });
writeFileSync(join(root, "outside", "secret"), "outside");
writeFileSync(join(root, "top-secret"), "top");
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every path under `dir` except `skip`, with a content hash for files and the target for links. */
function snapshot(dir: string, skip: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (p === skip) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${p} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${p}/`);
        visit(p);
      } else out.push(`${p} ${createHash("sha1").update(readFileSync(p)).digest("hex")}`);
    }
  };
  visit(dir);
  return out.sort();
}

/** Every file under the base is inside it (real paths), and is a regular file or directory. */
function assertAllInside(): number {
  let files = 0;
  const visit = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      expect(realpathSync(p).startsWith(base + sep)).toBe(true);
      const st = lstatSync(p);
      expect(st.isSymbolicLink()).toBe(false);
      if (st.isDirectory()) visit(p);
      else files++;
    }
  };
  visit(base);
  return files;
}

const HOSTILE_KEYS: string[] = [
  "..", ".", "../x", "../data-evil/secret", "../../top-secret", "a/../../x", "a/./b", "a/..", "./a",
  "/etc/passwd", "/", "//x", "a//b", "a/", "a\\..\\..\\x", "..\\x", "C:\\x", "c:x", "C:/x",
  "\u0000", "a\u0000b", "a/\u0000/b", "\n", "a\rb", "\u007f", "\u0085", "\ud800", "a\udfffb",
  ".pepperpy-tmp.1", "a/.pepperpy-meta.x", ".pepperpy", ".pepperpy-lock.k", "x/.pepperpyfoo/y",
  "...", "....", ".../x", "..a", "a..", ".hidden", "~", "~root", "$HOME", "%2e%2e/x", "..%2f",
  "con", "nul", "aux.txt", "a:b", "a|b", "a*b", "a?b", "a<b>", "\"q\"", "' or 1=1 --", " ",
  " /x", "x/ ", "\u202e", "\ufeff", "e\u0301", "\u{1f600}/\u{1f600}", "data-evil", "../data-evil",
  "a".repeat(255), "a".repeat(256), `${"a/".repeat(200)}z`, "x".repeat(1024), "x".repeat(1025),
  "a/b/c/d/e/f/g/h/i/j", "proc/self/fd/0", "dev/null",
];

it(`a table of ${HOSTILE_KEYS.length} hostile keys on every operation: rejected or strictly inside basePath`, async () => {
  const storage = new FileStorage({ path: base, fsync: false });
  await storage.put("safe", "safe value");
  const before = snapshot(root, base);
  let rejected = 0;
  let inside = 0;
  let otherErrors = 0;
  const operations: [string, (k: string) => Promise<unknown>][] = [
    ["put", (k) => storage.put(k, "v")],
    ["get", (k) => storage.get(k)],
    ["getBytes", (k) => storage.getBytes(k)],
    ["getStream", async (k) => (await storage.getStream(k)).resume()],
    ["stat", (k) => storage.stat(k)],
    ["exists", (k) => storage.exists(k)],
    ["copy to", (k) => storage.copy("safe", k)],
    ["copy from", (k) => storage.copy(k, "copied")],
    ["move from", (k) => storage.move(k, "moved")],
    ["list", (k) => storage.list(k)],
    ["listPage", (k) => storage.listPage(k, { limit: 3 })],
    ["delete", (k) => storage.delete(k)],
    ["put again", (k) => storage.put(k, { v: 1 })],
    ["move to", async (k) => {
      await storage.put("tomove", "m");
      await storage.move("tomove", k);
    }],
    ["delete again", (k) => storage.delete(k)],
  ];
  for (const key of HOSTILE_KEYS) {
    for (const [, op] of operations) {
      try {
        await op(key);
        inside++;
      } catch (error) {
        if (error instanceof StorageValidationError) rejected++;
        else if (isStorageError(error)) otherErrors++; // NOT_FOUND, CONFLICT (a key under a file), …
        else throw error;
      }
    }
    // Where a put succeeded, the file is exactly at base/key.
    try {
      await storage.put(key, "probe");
      const p = resolve(base, key);
      expect(p.startsWith(base + sep)).toBe(true);
      expect(readFileSync(p, "utf8")).toBe("probe");
      await storage.delete(key);
    } catch (error) {
      if (!isStorageError(error)) throw error;
    }
  }
  expect(snapshot(root, base)).toEqual(before);
  const files = assertAllInside();
  console.log(
    `[fs hostile-key proof] keys=${HOSTILE_KEYS.length} operations=${HOSTILE_KEYS.length * operations.length} ` +
      `rejected(StorageValidationError)=${rejected} succeededInside=${inside} otherTypedErrors=${otherErrors} escapes=0 filesInBase=${files}`,
  );
  await storage.close();
}, 60_000);

/** Keys built from the characters that matter for paths, plus arbitrary code points. */
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("..", ".", "", "a", "b", "~", ".pepperpy-tmp.x", ".pepperpy-meta.a", "data-evil", "..\\..", "C:", "%2e") },
  { weight: 5, arbitrary: fc.string({ unit: fc.constantFrom(".", "/", "\\", "a", "b", ":", "\u0000", "\n", "~", "\u00e9", "\ud800", "\udc00", "\u{1f600}", " ", "-"), maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
);
const randomKey = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join("/")),
  fc.tuple(fc.constantFrom("/", "../", "./", "\\", "C:\\", "a/../", ""), fc.array(segment, { maxLength: 3 })).map(([p, parts]) => p + parts.join("/")),
);

it("10,000 random keys (fast-check): each rejected with StorageValidationError or stored strictly inside basePath", async () => {
  const storage = new FileStorage({ path: base, fsync: false });
  const before = snapshot(root, base);
  let rejected = 0;
  let stored = 0;
  let conflicts = 0;
  await fc.assert(
    fc.asyncProperty(randomKey, async (key) => {
      try {
        await storage.put(key, "fuzz");
      } catch (error) {
        if (error instanceof StorageValidationError) {
          rejected++;
          return;
        }
        // A random key may sit under an earlier key that is a file: a typed conflict, nothing written.
        if (isStorageError(error, "CONFLICT")) {
          conflicts++;
          return;
        }
        throw error;
      }
      stored++;
      const p = resolve(base, key);
      if (!p.startsWith(base + sep)) throw new Error(`escaped: ${JSON.stringify(key)} -> ${p}`);
      if (readFileSync(p, "utf8") !== "fuzz") throw new Error(`not at base/key: ${JSON.stringify(key)}`);
      if ((await storage.get(key)) !== "fuzz") throw new Error(`round trip failed: ${JSON.stringify(key)}`);
      if (!(await storage.list(key)).includes(key)) throw new Error(`not listed: ${JSON.stringify(key)}`);
      await storage.delete(key);
    }),
    { numRuns: 10_000 },
  );
  expect(snapshot(root, base)).toEqual(before);
  assertAllInside();
  console.log(`[fs random-key proof] keys=10000 rejected(StorageValidationError)=${rejected} storedInside=${stored} conflicts=${conflicts} escapes=0`);
  expect(rejected + stored + conflicts).toBe(10_000);
  await storage.close();
}, 120_000);
