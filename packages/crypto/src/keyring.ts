import { Secret, StorageConfigError, StorageIntegrityError } from "@pepperpy/storage-core";
import { hkdfSync, randomBytes, scrypt } from "node:crypto";
import { type Header, KDF_RAW, KDF_SCRYPT, SCRYPT_WRITE, type ScryptParams, scryptParamsAllowed } from "./format.js";

/**
 * A key: a passphrase (stretched with scrypt), or exactly 32 random bytes used as is — a
 * `Uint8Array`, or a string `base64:…` / `hex:…` (how a config file holds a raw key) —
 * either plain or held in a `Secret` (as config delivers it).
 */
export type KeyMaterial = string | Uint8Array | Secret<string> | Secret<Uint8Array>;

/** The id a single `key` gets. */
export const DEFAULT_KEY_ID = "default";

// Key bytes are held in Secrets: printing the storage, its driver or this ring shows none of them.
type Entry = { kind: "raw"; key: Secret<Buffer> } | { kind: "passphrase"; secret: Secret<Buffer>; writeSalt: Buffer };

/** Derived master keys kept per instance; each entry is one scrypt run. */
const MASTER_CACHE_SIZE = 32;
const HKDF_INFO = Buffer.from("pepperpy-storage/v1/aes-256-gcm", "utf8");

function checkKeyId(id: string): void {
  const bytes = Buffer.byteLength(id, "utf8");
  if (bytes === 0 || bytes > 255 || [...id].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    throw new StorageConfigError(`Invalid key id ${JSON.stringify(id.slice(0, 40))}: expected 1 to 255 UTF-8 bytes without control characters`);
  }
}

/**
 * A raw key written as text: `base64:<44 characters>` or `hex:<64 digits>` (32 bytes), so a
 * config file can hold a random key that skips scrypt. `undefined` for any other string (a
 * passphrase). A prefixed string that does not decode to 32 bytes is refused rather than
 * silently used as a passphrase; the key's characters never appear in the message.
 */
export function parseRawKey(id: string, text: string): Buffer | undefined {
  const m = /^(base64|hex):(.*)$/s.exec(text);
  if (!m) return undefined;
  const [, encoding, body] = m as unknown as [string, "base64" | "hex", string];
  const valid = encoding === "hex" ? /^[0-9a-fA-F]*$/.test(body) && body.length % 2 === 0 : /^[A-Za-z0-9+/]*={0,2}$/.test(body);
  const bytes = valid ? Buffer.from(body, encoding) : undefined;
  if (bytes?.byteLength !== 32) {
    throw new StorageConfigError(
      `Key "${id}" starts with "${encoding}:" but is not 32 bytes of ${encoding} (got ${bytes ? `${bytes.byteLength} bytes` : "invalid characters"}); ` +
        `generate one with: node -e "console.log('${encoding}:' + require('crypto').randomBytes(32).toString('${encoding}'))"`,
    );
  }
  return bytes;
}

function toEntry(id: string, given: unknown): Entry {
  const material = Secret.reveal(given);
  if (typeof material === "string") {
    if (material.length === 0) throw new StorageConfigError(`Key "${id}" is an empty passphrase`);
    const raw = parseRawKey(id, material);
    if (raw) return { kind: "raw", key: new Secret(raw) };
    return { kind: "passphrase", secret: new Secret(Buffer.from(material, "utf8")), writeSalt: randomBytes(16) };
  }
  if (material instanceof Uint8Array) {
    // The length is not secret; the bytes never appear in messages.
    if (material.byteLength !== 32) throw new StorageConfigError(`Key "${id}" must be exactly 32 bytes (got ${material.byteLength}); use a string for a passphrase`);
    return { kind: "raw", key: new Secret(Buffer.from(material)) };
  }
  throw new StorageConfigError(`Key "${id}" must be a passphrase string or a 32-byte Uint8Array`);
}

/** What the layer needs to write one object under the active key. */
export interface WriteKey {
  keyId: string;
  kdf: typeof KDF_RAW | typeof KDF_SCRYPT;
  scrypt: ScryptParams;
  kdfSalt: Buffer;
  master: Buffer;
}

/**
 * The keys of one `EncryptedStorage`: validates them once, stretches passphrases with
 * scrypt at most once per (key id, salt, parameters) and caches the result, so no
 * operation after the first pays for the KDF.
 */
export class KeyRing {
  readonly activeKeyId: string;
  private readonly entries = new Map<string, Entry>();
  /** Derived master keys, each in a Secret (a resolved promise shows its value when inspected). */
  private readonly masters = new Map<string, Promise<Secret<Buffer>>>();
  /** scrypt parameter sets a read accepts: the one this release writes, plus `acceptScrypt`. */
  private readonly acceptedScrypt: ScryptParams[];
  /** Derivations run one at a time: a planted header can cost one scrypt's memory, never several. */
  private derivationQueue: Promise<unknown> = Promise.resolve();
  /** scrypt runs so far (for tests and diagnostics). */
  derivations = 0;

  constructor(options: { key?: unknown; keys?: unknown; activeKeyId?: unknown; acceptScrypt?: unknown }) {
    this.acceptedScrypt = [{ ...SCRYPT_WRITE }, ...checkAcceptScrypt(options.acceptScrypt)];
    if (options.key !== undefined && options.keys !== undefined) throw new StorageConfigError("Give either key or keys, not both");
    if (options.key !== undefined) {
      this.entries.set(DEFAULT_KEY_ID, toEntry(DEFAULT_KEY_ID, options.key));
      if (options.activeKeyId !== undefined && options.activeKeyId !== DEFAULT_KEY_ID) {
        throw new StorageConfigError(`activeKeyId "${String(options.activeKeyId)}" needs keys: { "${String(options.activeKeyId)}": … }`);
      }
      this.activeKeyId = DEFAULT_KEY_ID;
      return;
    }
    if (typeof options.keys !== "object" || options.keys === null || Array.isArray(options.keys)) {
      throw new StorageConfigError("EncryptedStorage needs key (a passphrase or 32 bytes) or keys: { id: key } with activeKeyId");
    }
    for (const [id, material] of Object.entries(options.keys as Record<string, unknown>)) {
      checkKeyId(id);
      this.entries.set(id, toEntry(id, material));
    }
    if (this.entries.size === 0) throw new StorageConfigError("keys is empty");
    let active = options.activeKeyId;
    if (active === undefined && this.entries.size === 1) active = [...this.entries.keys()][0];
    if (typeof active !== "string") throw new StorageConfigError("activeKeyId is required when keys has more than one key");
    if (!this.entries.has(active)) {
      throw new StorageConfigError(`activeKeyId "${active}" is not in keys (known ids: ${[...this.entries.keys()].join(", ")})`);
    }
    this.activeKeyId = active;
  }

  /** Key ids this ring can read. */
  get ids(): string[] {
    return [...this.entries.keys()];
  }

  /** The active key for a write (runs scrypt on first use only). */
  async writeKey(): Promise<WriteKey> {
    const entry = this.entries.get(this.activeKeyId)!;
    if (entry.kind === "raw") {
      return { keyId: this.activeKeyId, kdf: KDF_RAW, scrypt: { logN: 0, r: 0, p: 0 }, kdfSalt: Buffer.alloc(16), master: entry.key.reveal() };
    }
    const params = { ...SCRYPT_WRITE };
    const master = await this.stretch(this.activeKeyId, entry.secret, entry.writeSalt, params);
    return { keyId: this.activeKeyId, kdf: KDF_SCRYPT, scrypt: params, kdfSalt: entry.writeSalt, master: master.reveal() };
  }

  /** The master key a header names. Unknown ids and KDF mismatches fail before any work. */
  async readMaster(header: Header): Promise<Buffer> {
    const entry = this.entries.get(header.keyId);
    if (!entry) {
      throw new StorageIntegrityError(`Encrypted value names key id ${JSON.stringify(header.keyId)}, which is not configured (known ids: ${this.ids.join(", ")})`);
    }
    if (entry.kind === "raw") {
      if (header.kdf !== KDF_RAW) throw new StorageIntegrityError(`Encrypted value was written with a passphrase, but key "${header.keyId}" is a raw key (wrong key)`);
      return entry.key.reveal();
    }
    if (header.kdf !== KDF_SCRYPT) throw new StorageIntegrityError(`Encrypted value was written with a raw key, but key "${header.keyId}" is a passphrase (wrong key)`);
    const p = header.scrypt;
    if (!this.acceptedScrypt.some((a) => a.logN === p.logN && a.r === p.r && a.p === p.p)) {
      // Checked before any work: a planted header cannot make a read spend 256 MiB and seconds.
      throw new StorageIntegrityError(
        `Encrypted value asks for scrypt parameters N=2^${p.logN} r=${p.r} p=${p.p}, which this storage does not accept ` +
          `(it writes N=2^${SCRYPT_WRITE.logN} r=${SCRYPT_WRITE.r} p=${SCRYPT_WRITE.p}; allow others with acceptScrypt, accept_scrypt in config)`,
      );
    }
    return (await this.stretch(header.keyId, entry.secret, header.kdfSalt, p)).reveal();
  }

  private stretch(id: string, secret: Secret<Buffer>, salt: Buffer, p: ScryptParams): Promise<Secret<Buffer>> {
    const cacheKey = `${id}\u0000${salt.toString("hex")}\u0000${p.logN}/${p.r}/${p.p}`;
    let master = this.masters.get(cacheKey);
    if (master) {
      // Refresh its place in the LRU order.
      this.masters.delete(cacheKey);
      this.masters.set(cacheKey, master);
      return master;
    }
    const N = 2 ** p.logN;
    this.derivations++;
    const derive = () =>
      new Promise<Secret<Buffer>>((resolve, reject) =>
        scrypt(secret.reveal(), Buffer.from(salt), 32, { N, r: p.r, p: p.p, maxmem: 2 * 128 * N * p.r + 1024 * 1024 }, (error, key) =>
          error ? reject(new StorageIntegrityError("Key derivation failed", { cause: error })) : resolve(new Secret(key)),
        ),
      );
    master = this.derivationQueue.then(derive, derive);
    this.derivationQueue = master.catch(() => undefined);
    master.catch(() => this.masters.delete(cacheKey));
    this.masters.set(cacheKey, master);
    if (this.masters.size > MASTER_CACHE_SIZE) this.masters.delete(this.masters.keys().next().value!);
    return master;
  }
}

/** Validates the `acceptScrypt` option: parameter sets within the hard limits of the format. */
function checkAcceptScrypt(value: unknown): ScryptParams[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new StorageConfigError("acceptScrypt: expected a list of { logN, r, p }");
  return value.map((v, i) => {
    const p = v as Partial<ScryptParams> | null;
    const params = { logN: Number(p?.logN), r: Number(p?.r), p: Number(p?.p) };
    if (![params.logN, params.r, params.p].every(Number.isInteger) || !scryptParamsAllowed(params)) {
      throw new StorageConfigError(`acceptScrypt[${i}]: expected { logN: 10..20, r: 1..32, p: 1..4 } needing at most 256 MiB (128·2^logN·r bytes)`);
    }
    return params;
  });
}

/** The per-object key: HKDF-SHA256(master, object salt). A fresh salt per write makes every object key unique. */
export function objectKey(master: Buffer, objectSalt: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", master, objectSalt, HKDF_INFO, 32));
}
