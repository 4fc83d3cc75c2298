/** Seed "Advanced Features › Encrypted Storage": authenticated encryption at rest. */
import assert from "node:assert/strict";
import { EncryptedStorage, StorageIntegrityError } from "@pepperpy/storage";
import { type Example, runAsScript, size } from "./support.js";

export const encryption: Example = {
  title: "Encrypted storage",
  file: "examples/encryption.ts",
  section: "Advanced Features › Encrypted Storage",
  async run({ backend, log }) {
    // Create encrypted storage (a passphrase, or a 32-byte key)
    const storage = new EncryptedStorage({ backend, key: "secret-key" });
    const secretData = "card=4111-1111-1111-1111;cvv=123";

    // Encrypt content
    await storage.put("secure/sensitive.dat", secretData);
    const raw = Buffer.from(await backend.getBytes("secure/sensitive.dat"));
    log(`put "secure/sensitive.dat": ${size(secretData.length)} of text stored as ${size(raw.length)} of ciphertext`);
    log(`plaintext visible in the stored bytes: ${raw.includes(Buffer.from("4111"))}`);
    assert.equal(raw.includes(Buffer.from("4111")), false);

    // Auto-decryption on read
    const data = await storage.get<string>("secure/sensitive.dat");
    log(`get -> the original ${data.length} characters, identical: ${data === secretData}`);
    assert.equal(data, secretData);

    // The wrong key never yields plaintext
    const wrong = new EncryptedStorage({ backend, key: "not-the-key" });
    const error = await wrong.get("secure/sensitive.dat").catch((e: unknown) => e);
    assert.ok(error instanceof StorageIntegrityError);
    log(`with the wrong key: ${error.name} (${error.code})`);
  },
};

runAsScript(import.meta.url, encryption);
