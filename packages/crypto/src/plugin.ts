import { type LayerPlugin, StorageConfigError } from "@pepperpy/storage-core";
import { EncryptedStorage } from "./encrypted-storage.js";
import { type ScryptParams, scryptParamsAllowed } from "./format.js";
import type { KeyMaterial } from "./keyring.js";

/**
 * Config `options.encryption: { key: ${STORAGE_KEY} }` or `{ keys: { id: … }, activeKeyId }`.
 * Keys from config are passphrases (stretched with scrypt), or raw 32-byte keys written
 * `base64:…` or `hex:…`, which skip scrypt; both are delivered as `Secret`s so the resolved
 * config never prints them. `accept_scrypt: [{ log_n, r, p }]` is the `acceptScrypt` option.
 */
export const layerPlugin: LayerPlugin = {
  name: "encryption",
  order: 40,
  fields: {
    key: "secret",
    keys: "secret-map",
    activeKeyId: "string",
    allowPlaintext: "boolean",
    acceptScrypt: { list: { logN: "integer", r: "integer", p: "integer" } },
  },
  create(backend, options) {
    return new EncryptedStorage({
      backend,
      key: options.key as KeyMaterial | undefined,
      keys: options.keys as Record<string, KeyMaterial> | undefined,
      activeKeyId: options.activeKeyId as string | undefined,
      allowPlaintext: options.allowPlaintext as boolean | undefined,
      acceptScrypt: acceptScryptOption(options.acceptScrypt),
      timeout: options.timeout as number | undefined,
      maxSize: options.maxSize as number | undefined,
    });
  },
};

/**
 * The `accept_scrypt` field, held to the limits the constructor holds `acceptScrypt` to
 * (the same check), but named as the config writes it. A config that is not trusted can
 * therefore make a read spend at most what code could: 256 MiB and logN ≤ 20.
 */
function acceptScryptOption(value: unknown): ScryptParams[] | undefined {
  if (value === undefined) return undefined;
  return (value as ScryptParams[]).map((params, i) => {
    if (!scryptParamsAllowed(params)) {
      throw new StorageConfigError(
        `options.encryption.accept_scrypt[${i}]: N=2^${params.logN} r=${params.r} p=${params.p} is outside the limits: log_n 10..20, r 1..32, p 1..4, and at most 256 MiB (128·2^log_n·r bytes)`,
        { operation: "createStorage" },
      );
    }
    return params;
  });
}
