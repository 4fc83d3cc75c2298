import { channel } from "node:diagnostics_channel";
import { debuglog } from "node:util";
import type { StorageError } from "./errors.js";

/** What the `diagnostics_channel` named {@link OPERATION_CHANNEL_NAME} publishes once per storage operation, when it settles. */
export interface OperationMessage {
  /** The storage's name (`file`, `cache(s3)`, …): every layer of a stack publishes its own. */
  storage: string;
  /** The public operation (`get`, `put`, `listPage`, …). */
  operation: string;
  /** The key, when the operation had one. */
  key: string | undefined;
  /** Bytes read or written, when known. */
  bytes: number | undefined;
  /** Wall time in milliseconds. */
  durationMs: number;
  /** The error, when it failed. */
  error: StorageError | undefined;
}

/**
 * `node:diagnostics_channel` name of the per-operation messages, for tracers and APMs:
 * `diagnostics_channel.subscribe("pepperpy:storage:operation", (m) => …)`. Nothing is
 * measured or published while no one subscribes.
 */
export const OPERATION_CHANNEL_NAME = "pepperpy:storage:operation";
const operationChannel = channel(OPERATION_CHANNEL_NAME);

/** `NODE_DEBUG=pepperpy`: one line per operation on stderr (Node's `util.debuglog`). */
const debug = debuglog("pepperpy");

/** True while someone watches operations (a channel subscriber or `NODE_DEBUG=pepperpy`). */
export function tracing(): boolean {
  return operationChannel.hasSubscribers || debug.enabled;
}

/**
 * Hides secrets a message might carry: credentials in URLs (`https://user:pass@host`) and
 * `key=`/`secret=`/`token=`/`password=` style values. Library messages never hold key
 * material by contract; this guards what a native error (an SDK, a URL) may have put there.
 */
export function redact(text: string): string {
  return text
    .replace(/(\w+:\/\/)[^/\s:@]+:[^/\s@]+@/g, "$1***:***@")
    .replace(/\b(secret|password|passphrase|token|signature|credential|access[_-]?key(?:[_-]?id)?|secret[_-]?access[_-]?key|x-amz-[a-z-]+)(["']?\s*[=:]\s*["']?)[^\s&"',;]+/gi, "$1$2***");
}

/** Publishes one settled operation to the channel and the debug log. */
export function traceOperation(message: OperationMessage): void {
  if (operationChannel.hasSubscribers) operationChannel.publish(message);
  if (debug.enabled) {
    const outcome = message.error ? `failed ${message.error.code}: ${redact(message.error.message)}` : "ok";
    const bytes = message.bytes === undefined ? "" : ` ${message.bytes} B`;
    debug("%s %s%s%s in %s ms: %s", message.storage, message.operation, message.key === undefined ? "" : ` ${JSON.stringify(message.key)}`, bytes, message.durationMs.toFixed(1), outcome);
  }
}
