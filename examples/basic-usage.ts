/** Seed "Basic Usage": put, get, delete — the whole API in three calls. */
import assert from "node:assert/strict";
import { type Example, runAsScript, show } from "./support.js";

export const basicUsage: Example = {
  title: "Basic usage",
  file: "examples/basic-usage.ts",
  section: "Basic Usage",
  async run({ backend: storage, log }) {
    // Store data
    await storage.put("basic/key", "value");
    log(`put "basic/key" = ${show("value")} on ${storage.name}`);

    // Retrieve data: a string comes back a string
    const value = await storage.get<string>("basic/key");
    log(`get "basic/key" -> ${show(value)}`);
    assert.equal(value, "value");

    // Delete data; deleting again is fine
    await storage.delete("basic/key");
    const exists = await storage.exists("basic/key");
    log(`delete "basic/key"; exists -> ${exists}`);
    assert.equal(exists, false);
  },
};

runAsScript(import.meta.url, basicUsage);
