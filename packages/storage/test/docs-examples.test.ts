// The code of docs/writing-a-backend.md and docs/writing-a-layer.md, run through the
// conformance suite so the guides cannot drift from the API.
import { MemoryStorage, createStorage } from "@pepperpy/storage";
import { describeStorageConformance } from "@pepperpy/storage-testing";
import { describe, expect, it } from "vitest";
import { SharedMapStorage } from "../../../docs/examples/shared-map-storage.js";
import { UpperCaseStorage } from "../../../docs/examples/upper-case-storage.js";

let n = 0;
describeStorageConformance("docs: shared-map backend", ({ clock }) => new SharedMapStorage(`test-${n++}`, { clock: clock.now }));

describe("docs examples", () => {
  it("the shared-map type is registered and shares values by space", async () => {
    const a = await createStorage({ type: "shared-map", space: "docs" });
    const b = await createStorage({ type: "shared-map", space: "docs" });
    await a.put("k", { v: 1 });
    expect(await b.get("k")).toEqual({ v: 1 });
  });

  it("the upper-case layer changes text and leaves bytes and JSON alone", async () => {
    const s = new UpperCaseStorage({ backend: new MemoryStorage() });
    await s.put("t", "hello");
    await s.put("b", new Uint8Array([104, 105]));
    await s.put("j", { a: "x" });
    expect(await s.get("t")).toBe("HELLO");
    expect(await s.get("b")).toEqual(Buffer.from("hi"));
    expect(await s.get("j")).toEqual({ a: "x" });
    expect(s.name).toBe("upper(memory)");
  });
});
