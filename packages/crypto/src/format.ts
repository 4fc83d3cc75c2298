/**
 * The encrypted-object format, version 1 (documented byte by byte in docs/formats.md).
 *
 * ```
 * offset  size  field
 * 0       6     magic F7 50 50 45 0D 0A  ("\xF7PPE\r\n")
 * 6       1     format version (1)
 * 7       1     algorithm: 1 = AES-256-GCM with 16-byte tags
 * 8       1     log2 of the chunk size (10..24; this release writes 16 = 64 KiB)
 * 9       1     KDF of the master key: 0 = raw 32-byte key, 1 = scrypt(passphrase)
 * 10      1     scrypt log2(N)   (0 when KDF = 0)
 * 11      1     scrypt r         (0 when KDF = 0)
 * 12      1     scrypt p         (0 when KDF = 0)
 * 13      1     key id length L (1..255)
 * 14      L     key id, UTF-8
 * 14+L    16    scrypt salt (zeros when KDF = 0)
 * 30+L    32    object salt: HKDF-SHA256 salt of this object's key, random per write
 * 62+L    ...   records: chunk ciphertext ‖ 16-byte GCM tag, every chunk full except the last
 * ```
 */
import { StorageIntegrityError } from "@pepperpy/storage-core";

/** First bytes of every object the layer writes; 0xF7 never occurs in UTF-8 text. */
export const MAGIC = Buffer.from([0xf7, 0x50, 0x50, 0x45, 0x0d, 0x0a]);
/** The format version this release writes. */
export const FORMAT_VERSION = 1;
/** Algorithm id of AES-256-GCM. */
export const AES_256_GCM = 1;
/** GCM tag length. */
export const TAG_LENGTH = 16;
/** Bytes of the fixed part before the key id. */
export const FIXED_HEADER_LENGTH = 14;
/** Largest possible header (key id of 255 bytes). */
export const MAX_HEADER_LENGTH = FIXED_HEADER_LENGTH + 255 + 16 + 32;
/** Chunk size this release writes: 64 KiB. */
export const CHUNK_LOG2 = 16;
/** Chunk sizes a reader accepts: 1 KiB to 16 MiB (bounds the memory one record needs). */
const CHUNK_LOG2_MIN = 10;
const CHUNK_LOG2_MAX = 24;

/** KDF ids. */
export const KDF_RAW = 0;
export const KDF_SCRYPT = 1;

/** scrypt parameters this release writes: N = 2^17, r = 8, p = 1 (128 MiB, ~0.5 s once per instance). */
export const SCRYPT_WRITE = { logN: 17, r: 8, p: 1 } as const;
/** Most memory a header may ask scrypt for (128·N·r): 256 MiB. */
const SCRYPT_MAX_MEMORY = 256 * 1024 * 1024;

/** scrypt parameters as stored in a header. */
export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

/** A parsed header. */
export interface Header {
  /** The raw header bytes (authenticated as AAD). */
  bytes: Buffer;
  chunkSize: number;
  kdf: typeof KDF_RAW | typeof KDF_SCRYPT;
  scrypt: ScryptParams;
  keyId: string;
  kdfSalt: Buffer;
  objectSalt: Buffer;
}

export function hasMagic(bytes: Uint8Array): boolean {
  if (bytes.byteLength < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/** Length of the header starting at `bytes` (needs the first 14 bytes). */
export function headerLength(bytes: Uint8Array): number {
  return FIXED_HEADER_LENGTH + bytes[13]! + 16 + 32;
}

export function encodeHeader(h: Omit<Header, "bytes" | "chunkSize"> & { chunkLog2: number }): Buffer {
  const id = Buffer.from(h.keyId, "utf8");
  const out = Buffer.alloc(FIXED_HEADER_LENGTH + id.byteLength + 48);
  MAGIC.copy(out, 0);
  out[6] = FORMAT_VERSION;
  out[7] = AES_256_GCM;
  out[8] = h.chunkLog2;
  out[9] = h.kdf;
  out[10] = h.kdf === KDF_SCRYPT ? h.scrypt.logN : 0;
  out[11] = h.kdf === KDF_SCRYPT ? h.scrypt.r : 0;
  out[12] = h.kdf === KDF_SCRYPT ? h.scrypt.p : 0;
  out[13] = id.byteLength;
  id.copy(out, FIXED_HEADER_LENGTH);
  h.kdfSalt.copy(out, FIXED_HEADER_LENGTH + id.byteLength);
  h.objectSalt.copy(out, FIXED_HEADER_LENGTH + id.byteLength + 16);
  return out;
}

function bad(what: string): StorageIntegrityError {
  return new StorageIntegrityError(`Encrypted value has an invalid header: ${what}`);
}

/** True when scrypt parameters are within what a reader will spend (checked before any work). */
export function scryptParamsAllowed(p: ScryptParams): boolean {
  return p.logN >= 10 && p.logN <= 20 && p.r >= 1 && p.r <= 32 && p.p >= 1 && p.p <= 4 && 128 * 2 ** p.logN * p.r <= SCRYPT_MAX_MEMORY;
}

/**
 * Parses and validates a header that starts with the magic. Every check runs before any
 * key derivation, so hostile parameters cost nothing.
 */
export function decodeHeader(bytes: Buffer): Header {
  if (bytes.byteLength < FIXED_HEADER_LENGTH) throw bad("truncated");
  if (bytes[6] !== FORMAT_VERSION) throw bad(`unknown format version ${bytes[6]} (corrupt, or written by a newer release)`);
  if (bytes[7] !== AES_256_GCM) throw bad(`unknown algorithm ${bytes[7]}`);
  const chunkLog2 = bytes[8]!;
  if (chunkLog2 < CHUNK_LOG2_MIN || chunkLog2 > CHUNK_LOG2_MAX) throw bad(`chunk size 2^${chunkLog2} out of range`);
  const kdf = bytes[9]!;
  const scrypt = { logN: bytes[10]!, r: bytes[11]!, p: bytes[12]! };
  if (kdf === KDF_RAW) {
    if (scrypt.logN !== 0 || scrypt.r !== 0 || scrypt.p !== 0) throw bad("KDF parameters on a raw key");
  } else if (kdf === KDF_SCRYPT) {
    if (!scryptParamsAllowed(scrypt)) throw bad(`scrypt parameters N=2^${scrypt.logN} r=${scrypt.r} p=${scrypt.p} refused`);
  } else throw bad(`unknown KDF ${kdf}`);
  const idLength = bytes[13]!;
  if (idLength === 0) throw bad("empty key id");
  const length = headerLength(bytes);
  if (bytes.byteLength < length) throw bad("truncated");
  const keyId = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(FIXED_HEADER_LENGTH, FIXED_HEADER_LENGTH + idLength));
  const kdfSalt = bytes.subarray(FIXED_HEADER_LENGTH + idLength, FIXED_HEADER_LENGTH + idLength + 16);
  if (kdf === KDF_RAW && kdfSalt.some((b) => b !== 0)) throw bad("KDF salt on a raw key");
  return {
    bytes: bytes.subarray(0, length),
    chunkSize: 2 ** chunkLog2,
    kdf,
    scrypt,
    keyId,
    kdfSalt,
    objectSalt: bytes.subarray(FIXED_HEADER_LENGTH + idLength + 16, length),
  };
}

/**
 * Plaintext size of an object of `storedSize` bytes, or `undefined` when no valid record
 * layout has that size (the final record is missing or cut inside its tag).
 */
export function plaintextSize(storedSize: number, headerLen: number, chunkSize: number): number | undefined {
  const n = storedSize - headerLen;
  const record = chunkSize + TAG_LENGTH;
  if (n < TAG_LENGTH) return undefined;
  const full = Math.floor(n / record);
  const rest = n % record;
  if (rest === 0) return full * chunkSize;
  if (rest < TAG_LENGTH) return undefined;
  return full * chunkSize + rest - TAG_LENGTH;
}

/** The 96-bit GCM nonce of a record: chunk index (64-bit big-endian), three zero bytes, final flag. */
export function recordNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 0);
  nonce[11] = final ? 1 : 0;
  return nonce;
}
