import { StorageEvents, type StorageEvent } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { afterEach, describe, expect, it, vi } from "vitest";

const event: StorageEvent = { key: "k", operation: "put", durationMs: 1 };

describe("StorageEvents", () => {
  afterEach(() => vi.restoreAllMocks());

  it("calls listeners in order and reports has()", () => {
    const events = new StorageEvents();
    const seen: string[] = [];
    expect(events.has("storage.put")).toBe(false);
    events.on("storage.put", () => seen.push("a"));
    events.on("storage.put", () => seen.push("b"));
    expect(events.has("storage.put")).toBe(true);
    expect(events.has("storage.get")).toBe(false);
    events.emit("storage.put", event);
    events.emit("storage.get", event);
    expect(seen).toStrictEqual(["a", "b"]);
  });

  it("a throwing listener becomes a process warning and the others still run", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    const events = new StorageEvents();
    const seen: StorageEvent[] = [];
    events.on("storage.put", () => {
      throw new Error("bug in listener");
    });
    events.on("storage.put", (e) => seen.push(e));
    expect(() => events.emit("storage.put", event)).not.toThrow();
    expect(seen).toStrictEqual([event]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain("bug in listener");
  });

  it("once fires once; off removes plain and once listeners; removing during emit skips nobody", () => {
    const events = new StorageEvents();
    const seen: string[] = [];
    const once = () => seen.push("once");
    events.once("storage.get", once);
    const self = () => {
      seen.push("self");
      events.off("storage.get", self);
    };
    events.on("storage.get", self);
    events.on("storage.get", () => seen.push("last"));
    events.emit("storage.get", event);
    events.emit("storage.get", event);
    expect(seen).toStrictEqual(["once", "self", "last", "last"]);
    const removed = () => seen.push("removed");
    events.once("storage.get", removed);
    events.off("storage.get", removed);
    events.off("storage.delete", removed);
    events.emit("storage.get", event);
    expect(seen).not.toContain("removed");
    events.removeAll();
    expect(events.has("storage.get")).toBe(false);
  });
});

describe("storage events", () => {
  it("every operation family emits with key, operation, bytes and durationMs", async () => {
    const storage = new MemoryStorage();
    const seen: [string, StorageEvent][] = [];
    for (const name of ["storage.put", "storage.get", "storage.delete", "storage.error"] as const) storage.on(name, (e) => seen.push([name, e]));
    await storage.put("a", "abc");
    await storage.getText("a");
    await storage.copy("a", "b");
    await storage.move("b", "c");
    await storage.deleteMany(["a", "c"]);
    await storage.get("a").catch(() => undefined);
    expect(seen.map(([n, e]) => `${n}:${e.operation}:${e.key}`)).toStrictEqual([
      "storage.put:put:a",
      "storage.get:getText:a",
      "storage.put:copy:a",
      "storage.delete:move:b",
      "storage.delete:deleteMany:a",
      "storage.delete:deleteMany:c",
      "storage.error:get:a",
    ]);
    expect(seen[0]![1].bytes).toBe(3);
    expect(seen[1]![1].bytes).toBe(3);
    expect(seen.at(-1)![1].error?.code).toBe("NOT_FOUND");
  });
});
