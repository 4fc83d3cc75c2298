import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type DriverContext, StorageNotFoundError, type WriteRequest } from "@pepperpy/storage-core";
import { FileDriver, FileStorage } from "@pepperpy/storage-fs";
import { afterAll, describe, expect, it, vi } from "vitest";

// SPEC §11 contract, driver side: the fs driver persists WriteRequest.expiresAt in the
// sidecar and returns it as info.expiresAt; the core does the hiding and purging.
const root = mkdtempSync(join(tmpdir(), "pepperpy-fs-expiry-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const ctx = (): DriverContext => ({ signal: new AbortController().signal, operation: "test" });
const req = (body: Uint8Array, extra: Partial<WriteRequest> = {}): WriteRequest => ({
  body,
  valueType: "bytes",
  contentType: "application/octet-stream",
  metadata: {},
  options: {},
  ...extra,
});

describe("FileDriver: expiry deadlines", () => {
  it("stores expiresAt in the sidecar (even for plain bytes) and returns it from write, read, stat, readStream, and after a copy", async () => {
    const basePath = join(root, `d${++n}`);
    const driver = new FileDriver({ basePath });
    const deadline = Date.now() + 60_000;
    const written = await driver.write("a/blob.bin", req(new Uint8Array([1, 2, 3]), { expiresAt: deadline }), ctx());
    expect(written.expiresAt?.getTime()).toBe(deadline);
    // Bytes under a .bin key need no sidecar, unless they expire.
    expect(readdirSync(join(basePath, "a"))).toContain(".pepperpy-meta.blob.bin");
    expect(JSON.parse(readFileSync(join(basePath, "a/.pepperpy-meta.blob.bin"), "utf8")).records[0].exp).toBe(deadline);
    expect((await driver.read("a/blob.bin", ctx()))?.info.expiresAt?.getTime()).toBe(deadline);
    expect((await driver.stat("a/blob.bin", ctx()))?.expiresAt?.getTime()).toBe(deadline);
    const streamed = await driver.readStream("a/blob.bin", {}, ctx());
    expect(streamed?.info.expiresAt?.getTime()).toBe(deadline);
    streamed?.stream.destroy();
    expect(await driver.copy("a/blob.bin", "b/copy.bin", ctx())).toBe(true);
    expect((await driver.stat("b/copy.bin", ctx()))?.expiresAt?.getTime()).toBe(deadline);
    // A new driver (nothing remembered) reads it from the sidecar.
    const again = new FileDriver({ basePath });
    expect((await again.stat("a/blob.bin", ctx()))?.expiresAt?.getTime()).toBe(deadline);
    await again.close();
    // Overwritten without a deadline: no expiresAt any more.
    await driver.write("a/blob.bin", req(new Uint8Array([4])), ctx());
    expect((await driver.stat("a/blob.bin", ctx()))?.expiresAt).toBeUndefined();
    await driver.close();
  });

  it("with the storage's clock, exists, copy and move treat an expired value as missing (honorsExpiry), remembered or read from the sidecar", async () => {
    const basePath = join(root, `d${++n}`);
    let now = 1_000_000;
    const clock = () => now;
    const driver = new FileDriver({ basePath, clock });
    expect(driver.honorsExpiry).toBe(true);
    await driver.write("k/a.txt", req(new Uint8Array([1]), { valueType: "text", contentType: "text/plain", expiresAt: now + 1000 }), ctx());
    await driver.write("k/b.txt", req(new Uint8Array([2]), { valueType: "text", contentType: "text/plain", expiresAt: now + 1000 }), ctx());
    await driver.write("k/plain.bin", req(new Uint8Array([3])), ctx());
    await driver.write("k/dst.bin", req(new Uint8Array([9])), ctx());
    expect(await driver.exists("k/a.txt", ctx())).toBe(true);
    now += 1000; // the deadline itself: expired
    // Remembered versions (the fast path: one lstat) and a fresh driver (sidecar read) agree.
    const fresh = new FileDriver({ basePath, clock });
    for (const d of [driver, fresh]) {
      expect(await d.exists("k/a.txt", ctx()), "an expired value does not exist").toBe(false);
      expect(await d.exists("k/plain.bin", ctx()), "a value without a deadline never expires").toBe(true);
      expect(await d.exists("k/missing", ctx())).toBe(false);
      expect(await d.copy("k/a.txt", "k/dst.bin", ctx()), "copy from an expired value").toBe(false);
      expect(await d.move("k/b.txt", "k/dst.bin", ctx()), "move from an expired value").toBe(false);
    }
    expect(Buffer.from((await driver.read("k/dst.bin", ctx()))!.data)).toStrictEqual(Buffer.from([9]));
    // read and stat still show the expired version with its deadline: the core hides it, and purges it.
    expect((await fresh.stat("k/b.txt", ctx()))?.expiresAt?.getTime()).toBe(now);
    await fresh.close();
    await driver.close();
  });

  it("list entries of values with a deadline carry expiresAt, keys-only pages too, read from the sidecar by a fresh driver", async () => {
    const basePath = join(root, `d${++n}`);
    const driver = new FileDriver({ basePath });
    const deadline = Date.now() + 60_000;
    const long = `${"x".repeat(250)}.txt`; // its sidecar name is hashed (over 255 bytes)
    await driver.write("p/a.txt", req(new Uint8Array([1]), { valueType: "text", contentType: "text/plain", expiresAt: deadline }), ctx());
    await driver.write("p/b.txt", req(new Uint8Array([2]), { valueType: "text", contentType: "text/plain" }), ctx());
    await driver.write("p/c.bin", req(new Uint8Array([3])), ctx());
    await driver.write("p/d/e.bin", req(new Uint8Array([4]), { expiresAt: deadline + 1 }), ctx());
    await driver.write(`p/${long}`, req(new Uint8Array([5]), { valueType: "text", contentType: "text/plain", expiresAt: deadline + 2 }), ctx());
    const expected = [
      ["p/a.txt", deadline],
      ["p/b.txt", undefined],
      ["p/c.bin", undefined],
      ["p/d/e.bin", deadline + 1],
      [`p/${long}`, deadline + 2],
    ];
    const fresh = new FileDriver({ basePath });
    for (const d of [driver, fresh]) {
      for (const keysOnly of [false, true]) {
        const page = await d.list("p/", { limit: 100, keysOnly }, ctx());
        expect(page.items.map((e) => [e.key, e.expiresAt?.getTime()]), `keysOnly: ${keysOnly}`).toStrictEqual(expected);
        if (!keysOnly) expect(page.items.map((e) => e.size)).toStrictEqual([1, 1, 1, 1, 1]);
      }
    }
    await fresh.close();
    await driver.close();
  });

  it("FileStorage hands its clock to the driver: exists answers from the driver and honours the deadline", async () => {
    let now = Date.now();
    const storage = new FileStorage(join(root, `d${++n}`), { fsync: false, clock: () => now });
    await storage.put("t/k", "v", { ttl: 1000 });
    await storage.put("t/keep", "v");
    // The core takes the driver's exists (one lstat for a remembered version), not a stat.
    const stat = vi.spyOn((storage as unknown as { driver: FileDriver }).driver, "stat");
    expect(await storage.exists("t/k")).toBe(true);
    now += 1000;
    expect(await storage.exists("t/k")).toBe(false);
    expect(await storage.exists("t/keep")).toBe(true);
    expect(stat).not.toHaveBeenCalled();
    stat.mockRestore();
    expect(await storage.list("t/")).toStrictEqual(["t/keep"]);
    expect(await storage.purgeExpired("t/")).toBe(1);
    await storage.close();
  });
});

/** This package's source entry, and tsx: a child runs the source as the tests do (`--conditions=source`). */
const FS_ENTRY = fileURLToPath(new URL("../src/index.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** Runs `code` (an ES module) in a child `node` with the source conditions; resolves to its stdout. */
function runNode(code: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", TSX_LOADER, "--input-type=module", "-e", code, "--", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child exited with ${code}: ${stderr}`))));
  });
}

/** The child: puts `shared/k` with a one-hour ttl (its own clock, Date.now) and `shared/keep` without; prints the deadline. */
const WRITER = `
const [entry, base] = process.argv.slice(1); // node drops the "--" in front of them
const { FileStorage } = await import(entry);
const storage = new FileStorage(base, { fsync: false });
const info = await storage.put("shared/k", "from the child", { ttl: 3_600_000 });
await storage.put("shared/keep", "no deadline");
await storage.close();
console.log(info.expiresAt.getTime());
`;

describe("FileStorage: expiry across processes", () => {
  it("a deadline put by another process is seen by this one, from the sidecar, even over a version it remembered without one", { timeout: 60_000 }, async () => {
    const base = join(root, `d${++n}`);
    let now = Date.now();
    const clock = () => now;
    // This process knows shared/k first, without a deadline (its record is remembered).
    const earlier = new FileStorage(base, { fsync: false, clock });
    await earlier.put("shared/k", "from this process");
    expect((await earlier.stat("shared/k")).expiresAt).toBeUndefined();

    const deadline = Number((await runNode(WRITER, [FS_ENTRY, base])).trim());
    expect(deadline).toBeGreaterThan(now + 3_500_000);
    expect(readdirSync(join(base, "shared"))).toContain(".pepperpy-meta.k");

    const fresh = new FileStorage(base, { fsync: false, clock });
    for (const storage of [fresh, earlier]) {
      expect((await storage.stat("shared/k")).expiresAt?.getTime()).toBe(deadline);
      expect(await storage.getText("shared/k")).toBe("from the child");
      expect(await storage.exists("shared/k")).toBe(true);
      expect((await storage.listPage("shared/")).items.map((e) => [e.key, e.expiresAt?.getTime()])).toStrictEqual([
        ["shared/k", deadline],
        ["shared/keep", undefined],
      ]);
    }

    now = deadline; // this process's clock reaches the child's deadline
    for (const storage of [fresh, earlier]) {
      await expect(storage.get("shared/k")).rejects.toBeInstanceOf(StorageNotFoundError);
      await expect(storage.stat("shared/k")).rejects.toBeInstanceOf(StorageNotFoundError);
      expect(await storage.exists("shared/k")).toBe(false);
      expect(await storage.getMany(["shared/k", "shared/keep"])).toStrictEqual([undefined, "no deadline"]);
      expect(await storage.list("shared/")).toStrictEqual(["shared/keep"]);
    }
    expect(await fresh.purgeExpired("shared/")).toBe(1);
    expect(existsSync(join(base, "shared", "k"))).toBe(false);
    expect(await earlier.list("shared/")).toStrictEqual(["shared/keep"]);
    await fresh.close();
    await earlier.close();
  });
});
