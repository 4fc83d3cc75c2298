import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { Storage, StorageCapabilities, StorageError } from "@pepperpy/storage-core";

/**
 * The clock of one conformance case, for expiry (SPEC §11). With the injected clock it
 * follows real time plus whatever `advance` added, and `advance` returns at once; with the
 * real clock (`expiryClock: "real"`) it is `Date.now` and `advance` sleeps.
 */
export interface ConformanceClock {
  /** Epoch milliseconds: the function to pass as `clock` to every storage the factory builds. */
  readonly now: () => number;
  /** Moves time `ms` forward (or sleeps that long with the real clock). */
  advance(ms: number): Promise<void>;
  /** `"injected"` or `"real"`. */
  readonly kind: "injected" | "real";
}

/** What `describeStorageConformance` passes to the factory of each case. */
export interface ConformanceEnv {
  /**
   * The case's clock: pass `clock.now` as the `clock` option of every storage of the stack
   * (backend and layers, see `BaseStorageOptions.clock`), so the expiry cases can move time
   * without sleeping. Factories of storages that ignore it declare `expiryClock: "real"`.
   */
  clock: ConformanceClock;
}

/** What every conformance case gets. */
export interface CaseContext {
  /** The storage under test, fresh from `create()`. */
  storage: Storage;
  /** A random prefix owned by this case (`conformance-<random>/`); every key it writes starts with it. */
  prefix: string;
  /** `prefix + name`. */
  key(name: string): string;
  /** The clock the storage was given (see {@link ConformanceEnv}). */
  clock: ConformanceClock;
  /** The TTL expiry cases use, in ms: a minute with the injected clock, short with the real one. */
  ttl: number;
}

/** A clock that follows real time plus an offset moved by hand. */
export function manualClock(): ConformanceClock {
  let offset = 0;
  return {
    kind: "injected",
    now: () => Date.now() + offset,
    advance: async (ms: number) => {
      offset += ms;
    },
  };
}

/** The real clock: `advance` sleeps. */
export function realClock(): ConformanceClock {
  return { kind: "real", now: Date.now, advance: (ms: number) => sleep(ms) };
}

/** One named behaviour of the suite. */
export interface ConformanceCase {
  /** Stable name: the key of the `skip` map. */
  name: string;
  /** Runs only when the capability has this value (default `true`); otherwise skipped with the reason. */
  requires?: { capability: keyof StorageCapabilities; value?: boolean } | undefined;
  /**
   * The reason this case cannot apply to a storage with these capabilities (it is then
   * skipped with that reason), or `undefined` to run it.
   */
  skipWhen?: ((capabilities: StorageCapabilities) => string | undefined) | undefined;
  /** The condition of `skipWhen` in words, shown in the test's name (`[skipped where …]`). */
  skipWhenLabel?: string | undefined;
  /** Per-case timeout in ms (default: the runner's). */
  timeout?: number | undefined;
  run(ctx: CaseContext): Promise<void>;
}

/** A new random prefix, so cases on persistent backends never collide. */
export function randomPrefix(): string {
  return `conformance-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}/`;
}

/** Thrown by the helpers below: a plain message that says what was expected. */
export class ConformanceFailure extends Error {
  override name = "ConformanceFailure";
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Partial<StorageError>).code;
    return `${error.name}${code ? ` (${code})` : ""}: ${error.message}`;
  }
  return `a non-error value ${String(error)}`;
}

type ErrorClass<E> = (abstract new (...args: never[]) => E) & { name: string };

/**
 * Awaits `action` and checks it rejected with `Cls` (an `instanceof` that works across
 * package copies). Returns the error for further checks. `what` names the call in the
 * failure message, e.g. `put("a", undefined)`.
 */
export async function expectRejects<E>(action: Promise<unknown> | (() => unknown), Cls: ErrorClass<E>, what: string): Promise<E> {
  let value: unknown;
  try {
    value = await (typeof action === "function" ? action() : action);
  } catch (error) {
    if (error instanceof Cls) return error;
    throw new ConformanceFailure(`${what}: expected a rejection with ${Cls.name}, got ${describeError(error)}`);
  }
  let shown: string;
  try {
    shown = JSON.stringify(value)?.slice(0, 100) ?? String(value);
  } catch {
    shown = String(value);
  }
  throw new ConformanceFailure(`${what}: expected a rejection with ${Cls.name}, but it resolved (to ${shown})`);
}

/** Checks two byte arrays are equal, reporting the first difference instead of dumping megabytes. */
export function expectBytes(actual: unknown, expected: Uint8Array, what: string): void {
  if (!(actual instanceof Uint8Array)) {
    throw new ConformanceFailure(`${what}: expected a Uint8Array, got ${typeof actual === "object" ? (actual?.constructor?.name ?? "null") : typeof actual}`);
  }
  if (actual.byteLength !== expected.byteLength) {
    throw new ConformanceFailure(`${what}: expected ${expected.byteLength} bytes, got ${actual.byteLength}`);
  }
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      throw new ConformanceFailure(`${what}: bytes differ first at offset ${i} (expected ${expected[i]}, got ${actual[i]})`);
    }
  }
}

/** Reads a Node stream to the end. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Deterministic pseudo-random bytes (no crypto cost for megabytes). */
export function patternBytes(size: number, seed = 7): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Every byte value 0..255 once. */
export function allByteValues(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => i));
}

/** An async generator of `chunks`. */
export async function* chunksOf(data: Uint8Array, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += chunkSize) yield data.subarray(i, Math.min(i + chunkSize, data.byteLength));
}

/** A stream that yields `chunks` slowly and reports when it was finished or abandoned. */
export function slowStream(chunks: number, delayMs: number): { stream: AsyncGenerator<Uint8Array>; settled: Promise<void> } {
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < chunks; i++) {
        if (i > 0) await sleep(delayMs);
        yield Buffer.alloc(1024, i);
      }
    } finally {
      settle();
    }
  }
  return { stream: gen(), settled };
}

/** Waits for `p` but at most `ms`. */
export async function atMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  if (timer) clearTimeout(timer);
}

/** Collects an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** Sorts by Unicode code point (UTF-8 byte order), independently of the library's own `compareKeys`. */
export function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
