import { Readable } from "node:stream";
import { type Storage, type StorageErrorCode, isStorageError } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describe, it } from "vitest";
import { type FaultOperation, type FaultStorage, withFaults } from "../faults.js";
import { ConformanceFailure } from "./helpers.js";

/**
 * What a layer may answer after its backend lost a response: the true outcome (resolve,
 * when it happened), an error that says the outcome is unknown, or a retryable-class error
 * that claims nothing ("unavailable", "timed out"). Never `NOT_FOUND` or `CONFLICT`: those
 * say the operation did not happen, and it did.
 */
const HONEST_FAILURES: ReadonlySet<StorageErrorCode> = new Set(["OUTCOME_UNKNOWN", "UNAVAILABLE", "TIMEOUT"]);

/** Builds the backend an outcome case runs over: a fresh, empty storage per call. */
export type OutcomeBackend = () => Storage | Promise<Storage>;

const memoryBackend: OutcomeBackend = () => new MemoryStorage();

/**
 * A backend whose first `operation` call loses its response: the call happens, the caller
 * gets a retryable error. `inner` is the backend itself, for setting up and checking state.
 */
async function lossyBackend(operation: FaultOperation, backend: OutcomeBackend = memoryBackend): Promise<{ inner: Storage; lossy: FaultStorage }> {
  const inner = await backend();
  let armed = true;
  const lossy = withFaults(inner, {
    lose: "response",
    failOn: (call) => {
      if (!armed || call.operation !== operation) return false;
      armed = false;
      return true;
    },
  });
  return { inner, lossy };
}

async function outcome(action: Promise<unknown>, what: string): Promise<"done" | StorageErrorCode> {
  try {
    await action;
    return "done";
  } catch (error) {
    if (!isStorageError(error)) throw new ConformanceFailure(`${what}: rejected with a non-storage error ${String(error)}`);
    if (!HONEST_FAILURES.has(error.code)) {
      throw new ConformanceFailure(`${what}: the backend did it but lost the response, and the layer reported ${error.code} (${error.message}): a wrong outcome`);
    }
    return error.code;
  }
}

/** One outcome case: builds the layer over a lossy backend and checks what it reports. */
export interface OutcomeCase {
  /** Stable name: the key of the `skip` map. */
  name: string;
  /** Needs `capabilities.conditionalWrite` of the layer. */
  conditional?: boolean;
  /** Runs the case over `backend` (default: a new `MemoryStorage`) wrapped by `wrap`. */
  run(wrap: (backend: Storage) => Storage | Promise<Storage>, backend?: OutcomeBackend): Promise<void>;
}

/** The outcome cases, for layers (SPEC §3: the true outcome or "outcome unknown", never a wrong one). */
export const outcomeCases: readonly OutcomeCase[] = [
  {
    name: "outcomes: a move whose response was lost is never reported as NotFound",
    async run(wrap, backend) {
      const { inner, lossy } = await lossyBackend("move", backend);
      await inner.put("from", "moved value");
      const layer = await wrap(lossy);
      try {
        const result = await outcome(layer.move("from", "to"), 'move("from", "to")');
        if (result === "done" && (await inner.exists("from"))) throw new ConformanceFailure("move resolved but the source is still there");
        if (result === "done" && !(await inner.exists("to"))) throw new ConformanceFailure("move resolved but the destination is missing");
      } finally {
        await layer.close();
      }
    },
  },
  {
    name: "outcomes: a create-only put whose response was lost is never reported as a conflict",
    conditional: true,
    async run(wrap, backend) {
      const { lossy } = await lossyBackend("write", backend);
      const layer = await wrap(lossy);
      try {
        const result = await outcome(layer.put("created", "mine", { ifNoneMatch: "*" }), 'put("created", …, { ifNoneMatch: "*" })');
        if (result === "done" && (await layer.getText("created")) !== "mine") throw new ConformanceFailure("put resolved but the key does not hold its value");
      } finally {
        await layer.close();
      }
    },
  },
  {
    name: "outcomes: a compare-and-swap put whose response was lost is never reported as a conflict",
    conditional: true,
    async run(wrap, backend) {
      const { lossy } = await lossyBackend("write", backend);
      lossy.enabled = false;
      const layer = await wrap(lossy);
      try {
        const { etag } = await layer.put("cas", "v1");
        lossy.enabled = true;
        if (etag === undefined) throw new ConformanceFailure("put returned no etag on a storage with conditional writes");
        const result = await outcome(layer.put("cas", "v2", { ifMatch: etag }), 'put("cas", …, { ifMatch })');
        if (result === "done" && (await layer.getText("cas")) !== "v2") throw new ConformanceFailure("put resolved but the key does not hold its value");
      } finally {
        await layer.close();
      }
    },
  },
  {
    name: "outcomes: a streamed put whose response was lost is never reported as a failure that did not happen",
    async run(wrap, backend) {
      const { lossy } = await lossyBackend("write", backend);
      const layer = await wrap(lossy);
      try {
        const what = 'put("streamed", <stream>)';
        const result = await outcome(layer.put("streamed", Readable.from([Buffer.from("stream"), Buffer.from("ed")])), what);
        // Strict: the stream was consumed by the one attempt, so nothing can tell whether it was
        // stored; a retryable-class error here reads as "it failed, try again" (errors.md).
        if (result !== "done" && result !== "OUTCOME_UNKNOWN") {
          throw new ConformanceFailure(
            `${what}: the backend stored the stream but lost the response, and the layer reported ${result}: a stream cannot be replayed, so the answer is the true outcome or OUTCOME_UNKNOWN`,
          );
        }
        if (result === "done" && (await layer.getText("streamed")) !== "streamed") throw new ConformanceFailure("put resolved but the key does not hold its value");
      } finally {
        await layer.close();
      }
    },
  },
];

/**
 * Registers the outcome cases for a layer: `wrap` builds the layer (or stack) over the
 * backend it is given, a storage whose next call of one kind performs the operation and
 * then loses the response. After such a failure the layer must report the true outcome,
 * `StorageOutcomeUnknownError`, or a retryable-class error that claims nothing — never
 * `NotFound` or `Conflict` for an operation that happened. A streamed `put` is stricter:
 * the true outcome or `OUTCOME_UNKNOWN` only, since the consumed stream cannot be sent again
 * (a layer that passes its backend's error through unchanged skips that case by name).
 * Cases needing conditional writes are skipped when the layer lacks
 * `capabilities.conditionalWrite`; others by name through `skip`.
 *
 * `options.backend` builds the storage under the lost responses: a fresh, empty one per
 * call (default: a new `MemoryStorage`). The caller removes what it leaves behind (a
 * directory).
 *
 * @example
 * describeOutcomeConformance("retry", (backend) => new RetryStorage({ backend, delay: 1 }));
 * describeOutcomeConformance("retry(file)", (backend) => new RetryStorage({ backend, delay: 1 }), {
 *   backend: async () => new FileStorage({ path: await mkdtemp(join(tmpdir(), "outcomes-")) }),
 * });
 */
export function describeOutcomeConformance(
  name: string,
  wrap: (backend: Storage) => Storage | Promise<Storage>,
  options: { skip?: Readonly<Record<string, string>> | undefined; backend?: OutcomeBackend | undefined } = {},
): void {
  const skip = options.skip ?? {};
  const backend = options.backend ?? memoryBackend;
  const unknown = Object.keys(skip).filter((n) => !outcomeCases.some((c) => c.name === n));
  if (unknown.length > 0) throw new Error(`describeOutcomeConformance(${JSON.stringify(name)}): unknown case name(s) in skip: ${unknown.join(", ")}`);
  describe(`outcome conformance: ${name}`, () => {
    for (const c of outcomeCases) {
      const reason = skip[c.name];
      if (reason !== undefined) {
        it.skip(`${c.name} [skipped: ${reason}]`, () => undefined);
        continue;
      }
      it(c.conditional ? `${c.name} [needs capabilities.conditionalWrite = true]` : c.name, async (test) => {
        if (c.conditional) {
          const probe = await wrap(await backend());
          const supported = probe.capabilities.conditionalWrite;
          await probe.close();
          if (!supported) test.skip(`not supported: ${probe.name} has capabilities.conditionalWrite = false`);
        }
        await c.run(wrap, backend);
      });
    }
  });
}
