// Stacks composed from drivers with `stack()` pass the whole conformance suite, as every
// backend and layer class does (issue 17: a layer is a driver transform).
import { CacheDriver, ForwardingDriver, type Layer, MemoryStorage, RetryDriver, stack } from "@pepperpy/storage";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";

/** A layer that changes nothing: what each layer of a stack costs when it has nothing to do. */
const passThrough: Layer = (inner) => new ForwardingDriver(inner, "pass");

describeStorageConformance("stack(memory, [pass, pass, pass])", ({ clock }) =>
  stack(new MemoryStorage({ clock: clock.now }), [passThrough, passThrough, passThrough]),
);

describeStorageConformance("stack(memory, [retry, cache])", ({ clock }) =>
  stack(new MemoryStorage({ clock: clock.now }), [(d) => new RetryDriver(d, { delay: 1 }), (d) => new CacheDriver(d, { clock: clock.now })]),
);

describe("stack()", () => {
  it("names the stack after its layers, outermost first, and emits one event per call on the stack only", async () => {
    const backend = new MemoryStorage();
    const storage = stack(backend, [passThrough, (d) => new CacheDriver(d, {})]);
    expect(storage.name).toBe("cache(pass(memory))");
    const onStack: string[] = [];
    const onBackend: string[] = [];
    storage.on("storage.put", (e) => onStack.push(`put:${e.key}`));
    storage.on("storage.get", (e) => onStack.push(`get:${e.key}`));
    backend.on("storage.put", (e) => onBackend.push(`put:${e.key}`));
    backend.on("storage.get", (e) => onBackend.push(`get:${e.key}`));
    await storage.put("k", "v");
    expect(await storage.get("k")).toBe("v");
    expect(onStack).toStrictEqual(["put:k", "get:k"]);
    expect(onBackend, "the backend's own checks and events are not run again under the stack").toStrictEqual([]);
    expect(await backend.get("k"), "the value is stored in the backend").toBe("v");
  });

  it("inherits the backend's timeout and size limit, and closing it closes the backend", async () => {
    const backend = new MemoryStorage({ maxSize: 4 });
    const storage = stack(backend, [passThrough]);
    await expect(storage.put("k", "12345")).rejects.toMatchObject({ code: "VALIDATION" });
    await storage.close();
    await expect(backend.get("k")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("refuses calls once the backend was closed on its own", async () => {
    const backend = new MemoryStorage();
    const storage = stack(backend, [passThrough]);
    await storage.put("k", "v");
    await backend.close();
    const error = await storage.get("k").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "UNAVAILABLE", key: "k", operation: "get" });
  });
});
