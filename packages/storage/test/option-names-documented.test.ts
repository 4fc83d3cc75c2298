/**
 * Every documented constructor option passes the unknown-option check: options added by
 * other features (decompression budget, scrypt parameters, S3 listing expiry) were refused
 * with "unknown option" once the check was merged.
 */
import { describe, expect, it } from "vitest";
import { CompressedStorage, EncryptedStorage, MemoryStorage, S3Storage } from "../src/index.js";

describe("documented constructor options are known to the option check", () => {
  it("CompressedStorage takes decompressionBudget", () => {
    expect(() => new CompressedStorage({ backend: new MemoryStorage(), decompressionBudget: 64 * 1024 * 1024 })).not.toThrow();
  });

  it("EncryptedStorage takes acceptScrypt", () => {
    expect(() => new EncryptedStorage({ backend: new MemoryStorage(), key: "a passphrase", acceptScrypt: [{ logN: 14, r: 8, p: 1 }] })).not.toThrow();
  });

  it("S3Storage takes listExpiry", () => {
    expect(() => new S3Storage({ bucket: "b", region: "us-east-1", endpoint: "http://127.0.0.1:1", forcePathStyle: true, listExpiry: "never" })).not.toThrow();
    // The value is still checked.
    expect(() => new S3Storage({ bucket: "b", region: "us-east-1", listExpiry: "sometimes" as never })).toThrow(/Invalid option listExpiry/);
  });
});
