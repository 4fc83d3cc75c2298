import type { LayerPlugin } from "@pepperpy/storage-core";
import { EncryptedStorage } from "./encrypted-storage.js";

/**
 * Config `options.encryption: { key: ${STORAGE_KEY} }` or `{ keys: { id: … }, activeKeyId }`.
 * A key from config is a passphrase (stretched with scrypt), or a raw 32-byte key written
 * `base64:…` or `hex:…`, which skips scrypt.
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
