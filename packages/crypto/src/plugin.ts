import type { LayerPlugin } from "@pepperpy/storage-core";
import { EncryptedStorage } from "./encrypted-storage.js";
import type { KeyMaterial } from "./keyring.js";

/**
 * Config `options.encryption: { key: ${STORAGE_KEY} }` or `{ keys: { id: … }, activeKeyId }`.
 * Keys from config are passphrases (stretched with scrypt), or raw 32-byte keys written
 * `base64:…` or `hex:…`, which skip scrypt; both are delivered as `Secret`s so the resolved
 * config never prints them.
 */
export const layerPlugin: LayerPlugin = {
  name: "encryption",
  order: 40,
  fields: { key: "secret", keys: "secret-map", activeKeyId: "string", allowPlaintext: "boolean" },
  create(backend, options) {
    return new EncryptedStorage({
      backend,
      key: options.key as KeyMaterial | undefined,
      keys: options.keys as Record<string, KeyMaterial> | undefined,
      activeKeyId: options.activeKeyId as string | undefined,
      allowPlaintext: options.allowPlaintext as boolean | undefined,
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    });
  },
};
