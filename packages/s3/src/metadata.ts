import type { ValueType } from "@pepperpy/storage-core";

/**
 * S3 user-metadata key (`x-amz-meta-pepperpy-type`) that records how `get` decodes an
 * object. User metadata keys cannot start with `pepperpy` (core rejects them), so it
 * never clashes with user metadata.
 */
export const VALUE_TYPE_METADATA_KEY = "pepperpy-type";

/**
 * S3 user-metadata key (`x-amz-meta-pepperpy-expires`) that records a value's expiry
 * deadline (SPEC §11) as epoch milliseconds in decimal. Stored with the object, so every
 * process and instance sees the same deadline; copies (`MetadataDirective: COPY`) keep it.
 */
export const EXPIRES_METADATA_KEY = "pepperpy-expires";

const ENCODED = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/;

/**
 * Metadata travels as HTTP headers, which carry only printable ASCII and lose leading
 * and trailing spaces. Values that would not survive are sent as RFC 2047 encoded words
 * (`=?UTF-8?B?…?=`), the form S3 itself uses for non-ASCII metadata; values that merely
 * look like one are encoded too, so decoding is exact.
 */
export function encodeMetadataValue(value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value) && !value.startsWith("=?");
  return plain ? value : `=?UTF-8?B?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/** Inverse of {@link encodeMetadataValue}; values written by other tools pass through. */
export function decodeMetadataValue(value: string): string {
  const m = ENCODED.exec(value);
  return m ? Buffer.from(m[1]!, "base64").toString("utf8") : value;
}

/** User metadata plus the value type and the expiry deadline, ready for the SDK's `Metadata` field. */
export function toS3Metadata(metadata: Record<string, string>, valueType: ValueType | undefined, expiresAt?: number | undefined): Record<string, string> {
  const out: Record<string, string> = valueType === undefined ? {} : { [VALUE_TYPE_METADATA_KEY]: valueType };
  if (expiresAt !== undefined) out[EXPIRES_METADATA_KEY] = String(expiresAt);
  for (const [k, v] of Object.entries(metadata)) out[k] = encodeMetadataValue(v);
  return out;
}

/** Splits the SDK's `Metadata` back into the value type, the expiry deadline and the user metadata. */
export function fromS3Metadata(raw: Record<string, string> | undefined): {
  valueType: ValueType | undefined;
  expiresAt: Date | undefined;
  metadata: Record<string, string>;
} {
  const metadata: Record<string, string> = {};
  let valueType: ValueType | undefined;
  let expiresAt: Date | undefined;
  for (const [k, v] of Object.entries(raw ?? {})) {
    const key = k.toLowerCase();
    if (key === VALUE_TYPE_METADATA_KEY) {
      if (v === "text" || v === "bytes" || v === "json") valueType = v;
      continue;
    }
    if (key === EXPIRES_METADATA_KEY) {
      // A deadline that does not parse is ignored (the value then never expires) rather than guessed.
      if (/^\d{1,16}$/.test(v)) expiresAt = new Date(Number(v));
      continue;
    }
    if (key.startsWith("pepperpy")) continue;
    metadata[key] = decodeMetadataValue(v);
  }
  return { valueType, expiresAt, metadata };
}
