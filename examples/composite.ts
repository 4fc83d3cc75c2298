/** Seed "Common Patterns › Composite Storage": write to every tier, read from the first that has it. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CompositeStorage, FileStorage, MemoryStorage, S3Storage, type Storage } from "@pepperpy/storage";
import { type Example, runAsScript } from "./support.js";

export const composite: Example = {
  title: "Composite storage",
  file: "examples/composite.ts",
  section: "Common Patterns › Composite Storage",
  async run({ dataDir, s3, log }) {
    const memory = new MemoryStorage(); // Fast cache
    const file = new FileStorage(join(dataDir, "composite")); // Persistent
    const tiers: Storage[] = [memory, file];
    if (s3) tiers.push(new S3Storage({ bucket: s3.bucket, prefix: "composite/", clientConfig: s3.server.clientConfig })); // Backup
    else log("(the S3 backup tier joins when the tour runs against s3rver)");
    const storage = new CompositeStorage(tiers);

    // Write to all storages
    await storage.put("key", "value");
    const everywhere = await Promise.all(tiers.map((t) => t.exists("key")));
    log(`put "key" on ${storage.name}: present in ${tiers.map((t, i) => `${t.name}=${everywhere[i]}`).join(", ")}`);
    assert.deepEqual(everywhere, tiers.map(() => true));

    // Read from first available: with the memory tier emptied, the next tier answers
    // and the value is copied back into memory (read repair).
    await memory.delete("key");
    const value = await storage.get("key");
    log(`memory emptied; get "key" -> "${value}" from ${file.name}, memory repaired: ${await memory.exists("key")}`);
    assert.equal(value, "value");
    await storage.close();
  },
};

runAsScript(import.meta.url, composite);
