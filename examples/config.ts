/** Seed "Configuration": the whole stack from YAML, `${ENV}` variables included. */
import assert from "node:assert/strict";
import { createStorage, parseConfig } from "@pepperpy/storage";
import { type Example, runAsScript, show } from "./support.js";

/** The seed's configuration block; only the backend lines differ between files and S3. */
const OPTIONS = `
  options:
    compression: true
    encryption: false
    cache:
      enabled: true
      cache_size: 1000
    retry:
      max_retries: 3
      delay: 1.0
`;

export const config: Example = {
  title: "Configuration",
  file: "examples/config.ts",
  section: "Configuration",
  async run({ kind, dataDir, s3, log }) {
    const yaml =
      kind === "s3" && s3
        ? `storage:\n  type: s3\n  bucket: ${s3.bucket}\n  prefix: config/\n  endpoint: \${S3_ENDPOINT}\n  force_path_style: true\n  access_key_id: S3RVER\n  secret_access_key: \${S3_SECRET}\n  checksums: when_required${OPTIONS}`
        : `storage:\n  type: file\n  path: \${STORAGE_PATH}/config${OPTIONS}`;
    const env = { STORAGE_PATH: dataDir, S3_ENDPOINT: s3?.server.endpoint ?? "", S3_SECRET: "S3RVER" };
    // loadConfig("storage.yaml") does the same from a file.
    const storage = await createStorage(await parseConfig(yaml, { env, source: "storage.yaml" }));
    log(`storage.yaml (type: ${kind === "s3" ? "s3" : "file"}) built ${storage.name}`);

    const settings = { theme: "dark", pageSize: 50 };
    await storage.put("settings.json", settings);
    const back = await storage.get("settings.json");
    log(`put/get "settings.json" through every layer -> ${show(back)}`);
    assert.deepEqual(back, settings);

    // A mistake in the file is a StorageConfigError naming the field.
    const bad = await parseConfig("storage:\n  type: file\n  path: ./x\n  options:\n    max_size: lots\n", { source: "storage.yaml" }).catch((e: Error) => e);
    assert.ok(bad instanceof Error && bad.message.includes("max_size"));
    log(`a bad value: ${bad.message}`);
    await storage.close();
  },
};

runAsScript(import.meta.url, config);
