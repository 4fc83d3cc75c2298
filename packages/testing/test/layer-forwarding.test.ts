import { ForwardingDriver, LayerStorage } from "@pepperpy/storage-core";
import { describe, expect, it } from "vitest";
import { MockStorage } from "../src/index.js";

/** A layer that changes nothing: everything goes through ForwardingDriver's defaults. */
class PassThrough extends LayerStorage {
  constructor(backend: MockStorage) {
    super(new ForwardingDriver(backend, "pass"));
  }
}

describe("ForwardingDriver", () => {
  it("forwards exists to the inner storage's exists, not to stat (one lstat on files, no metadata read)", async () => {
    const inner = new MockStorage();
    await inner.put("a", "1");
    inner.calls.length = 0;
    const layer = new PassThrough(inner);
    expect(await layer.exists("a")).toBe(true);
    expect(await layer.exists("missing")).toBe(false);
    expect(inner.calls.map((c) => c.operation)).toEqual(["exists", "exists"]);
    expect(inner.callsTo("stat")).toHaveLength(0);
  });

  it("list() asks the inner storage for keys only", async () => {
    const inner = new MockStorage();
    await inner.putMany({ "p/a": "1", "p/b": "2", q: "3" });
    inner.calls.length = 0;
    const layer = new PassThrough(inner);
    expect(await layer.list("p/")).toEqual(["p/a", "p/b"]);
    const pages = inner.callsTo("listPage");
    expect(pages).toHaveLength(1);
    expect(pages[0]!.args[1]).toMatchObject({ keysOnly: true });
  });
});
