import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DriverContext, WriteRequest } from "@pepperpy/storage-core";
import { FileDriver } from "@pepperpy/storage-fs";
import { afterAll, describe, expect, it } from "vitest";

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
});
