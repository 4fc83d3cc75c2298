/**
 * Observability hooks every storage reports to, at no cost while nobody listens:
 * a `diagnostics_channel` message per finished operation and `NODE_DEBUG=pepperpy` logs.
 */
import { channel } from "node:diagnostics_channel";
import { debuglog } from "node:util";
import type { StorageError } from "./errors.js";

/** Name of the channel a message per finished operation is published on. */
export const OPERATION_CHANNEL = "pepperpy:storage:operation";

/**
 * What is published on {@link OPERATION_CHANNEL}, once per finished public call of every
 * storage (in a stack of layers, each layer publishes its own, named by `backend`).
 */
export interface OperationMessage {
  /** The public operation (`get`, `put`, `list`, …). */
  operation: string;
  /** The key, when the call has one. */
  key?: string | undefined;
  /** Name of the storage that ran it (`file`, `cache(s3)`, …). */
  backend: string;
  /** Bytes read or written, when known. */
  bytes?: number | undefined;
  /** Wall time in ms. */
  durationMs: number;
  /** The error the call rejected with. Its message never holds a secret. */
  error?: StorageError | undefined;
}

/** The channel; subscribe with `diagnostics_channel.subscribe(OPERATION_CHANNEL, fn)`. */
export const operationChannel = channel(OPERATION_CHANNEL);

const debug = debuglog("pepperpy");
/** NODE_DEBUG is read once, when this module loads (as Node's own debuglog does). */
const debugEnabled = debug.enabled;

/** True while anyone observes operations (a channel subscriber or `NODE_DEBUG=pepperpy`). */
export function observed(): boolean {
  return operationChannel.hasSubscribers || debugEnabled;
}

/** Publishes one finished operation to the channel and the debug log. */
export function reportOperation(message: OperationMessage): void {
  if (operationChannel.hasSubscribers) operationChannel.publish(message);
  if (debugEnabled) {
    const key = message.key === undefined ? "" : ` ${JSON.stringify(message.key)}`;
    const bytes = message.bytes === undefined ? "" : ` ${message.bytes} B`;
    const outcome = message.error ? `failed ${message.error.code}: ${message.error.detail}` : "ok";
    debug("%s%s on %s: %s%s in %s ms", message.operation, key, message.backend, outcome, bytes, message.durationMs.toFixed(1));
  }
}

/** Writes one line to the `NODE_DEBUG=pepperpy` log (callers pass nothing secret). */
export function debugLog(format: string, ...args: unknown[]): void {
  if (debugEnabled) debug(format, ...args);
}
