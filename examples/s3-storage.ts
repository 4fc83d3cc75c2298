/** S3 storage (seed: the `S3Storage("bucket")` of "Composite Storage"): any S3-compatible server. */
import assert from "node:assert/strict";
import { S3Storage } from "@pepperpy/storage";
import { startS3Server } from "@pepperpy/storage-testing";
import { type Example, runAsScript, size } from "./support.js";

export const s3Storage: Example = {
  title: "S3 storage",
  file: "examples/s3-storage.ts",
  section: "Storage Types (S3Storage, from Composite Storage)",
  kinds: ["s3"],
  async run({ s3, log }) {
    // Run on its own, this example starts its own local server.
    const server = s3?.server ?? (await startS3Server({ bucket: "examples" }));
    const bucket = s3?.bucket ?? "examples";
    try {
      const storage = new S3Storage({ bucket, prefix: "s3-example/", clientConfig: server.clientConfig });
      await storage.put("reports/2024.json", { total: 1234 }, { metadata: { owner: "finance" } });
      await storage.put("reports/2025.json", { total: 2345 });
      const info = await storage.stat("reports/2024.json");
      log(`put 2 objects in bucket "${bucket}" at ${server.endpoint}; stat -> ${size(info.size)}, ${info.contentType}, metadata ${JSON.stringify(info.metadata)}`);
      const keys = await storage.list("reports/");
      log(`list "reports/" -> ${JSON.stringify(keys)}`);
      assert.deepEqual(keys, ["reports/2024.json", "reports/2025.json"]);
      assert.deepEqual(await storage.get("reports/2025.json"), { total: 2345 });
      await storage.deleteMany(keys);
      log(`deleteMany (one DeleteObjects request) -> ${(await storage.list("reports/")).length} left`);
      await storage.close();
    } finally {
      if (!s3) await server.stop();
    }
  },
};

runAsScript(import.meta.url, s3Storage);
