/** Seed "Storage Types › Memory Storage": fast, per process, isolated by copy. */
import assert from "node:assert/strict";
import { MemoryStorage } from "@pepperpy/storage";
import { type Example, runAsScript, show } from "./support.js";

export const memoryStorage: Example = {
  title: "Memory storage",
  file: "examples/memory-storage.ts",
  section: "Storage Types › Memory Storage",
  kinds: ["files"],
  async run({ log }) {
    const storage = new MemoryStorage();

    // Store in memory
    const user = { name: "John" };
    await storage.put("user", user);
    user.name = "changed after put"; // does not change what is stored

    // Check existence
    const exists = await storage.exists("user");
    log(`put "user"; exists -> ${exists}`);

    // Read from memory
    const content = await storage.get<{ name: string }>("user");
    log(`Content: ${show(content)}`);
    assert.equal(exists, true);
    assert.deepEqual(content, { name: "John" });
    await storage.close();
  },
};

runAsScript(import.meta.url, memoryStorage);
