import type { LayerPlugin } from "@pepperpy/storage-core";
import { EncryptedStorage } from "./encrypted-storage.js";

/**
 * Config `options.encryption: { key: ${STORAGE_KEY} }` or `{ keys: { id: … }, activeKeyId }`.
 * Keys from config are passphrases (strings); pass a 32-byte `Uint8Array` in code for a raw key.
 */
export const layerPlugin: LayerPlugin = {
  name: "encryption",
  order: 40,
  fields: { key: "secret", keys: "secret-map", activeKeyId: "string", allowPlaintext: "boolean" },
  create(backend, options) {
    return new EncryptedStorage({
      backend,
      key: options.key as string | undefined,
      keys: options.keys as Record<string, string> | undefined,
      activeKeyId: options.activeKeyId as string | undefined,
      allowPlaintext: options.allowPlaintext as boolean | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    });
  },
};
