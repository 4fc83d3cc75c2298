/** Seed "Storage Types › File System Storage": plain files other tools can read. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage";
import { type Example, runAsScript, show, size } from "./support.js";

export const fileStorage: Example = {
  title: "File system storage",
  file: "examples/file-storage.ts",
  section: "Storage Types › File System Storage",
  kinds: ["files"],
  async run({ dataDir, log }) {
    const storage = new FileStorage({ path: dataDir });
    const jsonData = { service: "api", replicas: 3, features: ["cache", "retry"] };

    // Store file: a JSON value is written as JSON text
    const info = await storage.put("files/config.json", jsonData);
    log(`put "files/config.json" (${size(info.size)}, ${info.contentType})`);

    // Read file: the same object comes back
    const content = await storage.get("files/config.json");
    log(`get "files/config.json" -> ${show(content)}`);
    assert.deepEqual(content, jsonData);

    // It is an ordinary file on disk
    const onDisk = await readFile(join(dataDir, "files", "config.json"), "utf8");
    log(`on disk: ${join("data", "files", "config.json")} contains ${onDisk}`);
    assert.deepEqual(JSON.parse(onDisk), jsonData);
    await storage.close();
  },
};

runAsScript(import.meta.url, fileStorage);
