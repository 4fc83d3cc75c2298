/** Seed "Advanced Features › Compressed Storage": gzip (or brotli) on the way in, transparent on the way out. */
import assert from "node:assert/strict";
import { CompressedStorage } from "@pepperpy/storage";
import { type Example, runAsScript, size } from "./support.js";

export const compression: Example = {
  title: "Compressed storage",
  file: "examples/compression.ts",
  section: "Advanced Features › Compressed Storage",
  async run({ backend, log }) {
    // Create compressed storage
    const storage = new CompressedStorage({ backend });

    const largeContent = Array.from({ length: 4000 }, (_, i) => `2024-05-01T12:00:${String(i % 60).padStart(2, "0")}Z INFO request ${i} served in ${i % 97} ms\n`).join("");

    // Compress content
    await storage.put("compressed/data.txt", largeContent, { compressionLevel: 9 });
    const stored = await backend.stat("compressed/data.txt");
    const original = Buffer.byteLength(largeContent);
    log(`put "compressed/data.txt": ${size(original)} of text stored as ${size(stored.size)} (${((100 * stored.size) / original).toFixed(1)}%)`);
    assert.ok(stored.size < original / 4);

    // Auto-decompression on read
    const content = await storage.get<string>("compressed/data.txt");
    log(`get -> ${size(Buffer.byteLength(content))} of text, identical: ${content === largeContent}`);
    assert.equal(content, largeContent);
  },
};

runAsScript(import.meta.url, compression);
