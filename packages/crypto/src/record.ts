/**
 * Sealing and opening one record of the encrypted-object format (internal; not exported
 * from the package index).
 */
import { StorageIntegrityError } from "@pepperpy/storage-core";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { type Header, TAG_LENGTH, recordNonce } from "./format.js";

/**
 * How many records {@link openRecord} has opened in this process. For tests that check a
 * ranged read decrypts only the records it needs; nothing else reads it.
 */
export const recordStats = { opened: 0 };

export function authFailed(cause?: unknown): StorageIntegrityError {
  return new StorageIntegrityError(
    "Encrypted value failed authentication (tampered, truncated, wrong key, or copied from another storage key)",
    cause === undefined ? {} : { cause },
  );
}

/** One object's decryption state: its key, AAD and record geometry. */
export interface OpenObject {
  header: Header;
  key: Buffer;
  aad: Buffer;
}

export function openRecord(obj: OpenObject, index: number, final: boolean, record: Buffer): Buffer {
  recordStats.opened++;
  if (record.byteLength < TAG_LENGTH || record.byteLength > obj.header.chunkSize + TAG_LENGTH) throw authFailed();
  const cut = record.byteLength - TAG_LENGTH;
  try {
    const decipher = createDecipheriv("aes-256-gcm", obj.key, recordNonce(index, final), { authTagLength: TAG_LENGTH });
    decipher.setAAD(obj.aad);
    decipher.setAuthTag(record.subarray(cut));
    const plain = decipher.update(record.subarray(0, cut));
    // final() verifies the tag; `plain` is released only after it returns.
    decipher.final();
    return plain;
  } catch (error) {
    throw authFailed(error);
  }
}

export function sealRecord(key: Buffer, aad: Buffer, index: number, final: boolean, chunk: Uint8Array, out: Buffer[]): void {
  const cipher = createCipheriv("aes-256-gcm", key, recordNonce(index, final), { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  out.push(cipher.update(chunk));
  cipher.final();
  out.push(cipher.getAuthTag());
}
