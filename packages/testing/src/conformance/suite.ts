import type { Storage } from "@pepperpy/storage-core";
import { describe, it } from "vitest";
import { behaviourCases } from "./behaviour.js";
import { fairnessCases } from "./fairness.js";
import { expiryCases } from "./expiry.js";
import { type CaseContext, type ConformanceCase, type ConformanceEnv, manualClock, randomPrefix, realClock } from "./helpers.js";
import { keyCases } from "./keys.js";
import { listingCases } from "./listing.js";
import { readCases } from "./reads.js";
import { valueCases } from "./values.js";
import { writeCases } from "./writes.js";

/** Every case of the suite, in the order they run. */
export const conformanceCases: readonly ConformanceCase[] = [
  ...readCases,
  ...valueCases,
  ...keyCases,
  ...listingCases,
  ...writeCases,
  ...behaviourCases,
  ...fairnessCases,
  ...expiryCases,
];

/** The names of the expiry cases (SPEC §11), for a storage that skips them all with one reason. */
export const expiryCaseNames: readonly string[] = expiryCases.map((c) => c.name);

/** The stable name of every case: the keys a `skip` map may use. */
export const conformanceCaseNames: readonly string[] = conformanceCases.map((c) => c.name);

{
  const seen = new Set<string>();
  for (const name of conformanceCaseNames) {
    if (seen.has(name)) throw new Error(`@pepperpy/storage-testing: duplicate conformance case name ${JSON.stringify(name)}`);
    seen.add(name);
  }
}

/** Options of {@link describeStorageConformance}. */
export interface ConformanceOptions {
  /**
   * Cases that cannot apply to this storage, by exact case name (see
   * `conformanceCaseNames`), with the reason. They are reported as skipped with the
   * reason in the test name. An unknown name is an error, so a renamed case is noticed.
   */
  skip?: Readonly<Record<string, string>> | undefined;
  /**
   * Runs after each case, after the suite deleted the keys the case wrote and before it
   * closes the storage (the storage may already be closed by the case that tests `close`).
   */
  cleanup?: ((storage: Storage) => void | Promise<void>) | undefined;
  /** Timeout of each case in ms (default: vitest's, or the case's own when larger). */
  timeout?: number | undefined;
  /**
   * How the expiry cases move time. `"injected"` (default): the factory passes
   * `env.clock.now` as the `clock` option of the storage (and of every layer), and the
   * cases advance it by hand — nothing sleeps. `"real"`: for storages whose deadlines are
   * checked by a clock the test cannot move (a server's native TTL); the cases use a short
   * TTL (`expiryTtl`) and sleep.
   */
  expiryClock?: "injected" | "real" | undefined;
  /** TTL of the expiry cases with the real clock, in ms (default 1500). */
  expiryTtl?: number | undefined;
}

/** Deletes everything under the case's prefix; failures are ignored (the storage may be closed). */
async function removePrefix(storage: Storage, prefix: string): Promise<void> {
  try {
    const keys = await storage.list(prefix);
    if (keys.length > 0) await storage.deleteMany(keys);
  } catch {
    // Best effort: the case may have closed the storage or broken the backend on purpose.
  }
}

/**
 * Registers the behaviour suite of SPEC §3 for one storage, with vitest's
 * `describe`/`it`: one test per case, named by its stable case name.
 *
 * `create` is called once per case with the case's {@link ConformanceEnv} and must return
 * a fresh, open storage built with `env.clock.now` as its `clock` option (the expiry
 * cases move that clock; see `expiryClock` for storages that cannot take one); the suite
 * writes only under a random prefix per case, deletes what it wrote afterwards, calls
 * `cleanup`, then closes the storage. Cases that need a capability
 * (`conditionalWrite`, `keyIsAlsoPrefix`) say so in their test name and are skipped
 * when `storage.capabilities` lacks it; cases that cannot apply for other reasons are
 * skipped by name through `options.skip`, with the reason.
 *
 * @example
 * describeStorageConformance("file", async ({ clock }) => new FileStorage({ basePath: await mkdtemp(join(tmpdir(), "t-")), clock: clock.now }), {
 *   skip: { "keys: a single 300-byte segment": "file names are limited to 255 bytes" },
 * });
 */
export function describeStorageConformance(
  name: string,
  create: (env: ConformanceEnv) => Storage | Promise<Storage>,
  options: ConformanceOptions = {},
): void {
  const skip = options.skip ?? {};
  const known = new Set(conformanceCaseNames);
  const unknown = Object.keys(skip).filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(
      `describeStorageConformance(${JSON.stringify(name)}): unknown case name(s) in skip: ${unknown.map((n) => JSON.stringify(n)).join(", ")}. ` +
        "The names are listed in conformanceCaseNames.",
    );
  }
  describe(`storage conformance: ${name}`, () => {
    for (const c of conformanceCases) {
      const reason = skip[c.name];
      if (reason !== undefined) {
        it.skip(`${c.name} [skipped: ${reason}]`, () => undefined);
        continue;
      }
      const needs = c.requires;
      const wanted = needs?.value ?? true;
      const base = needs ? `${c.name} [needs capabilities.${needs.capability} = ${wanted}]` : c.name;
      const title = c.skipWhenLabel ? `${base} [skipped where ${c.skipWhenLabel}]` : base;
      const real = options.expiryClock === "real";
      const ttl = real ? (options.expiryTtl ?? 1500) : 60_000;
      // Expiry cases sleep a few TTLs with the real clock.
      const caseTimeout = real && c.name.startsWith("expiry:") ? 5_000 + 6 * ttl : (c.timeout ?? 0);
      const timeout = Math.max(options.timeout ?? 0, caseTimeout) || undefined;
      it(
        title,
        async (test) => {
          const clock = real ? realClock() : manualClock();
          const storage = await create({ clock });
          if (needs && storage.capabilities[needs.capability] !== wanted) {
            await storage.close();
            test.skip(`not supported: ${storage.name} has capabilities.${needs.capability} = ${!wanted}`);
          }
          const why = c.skipWhen?.(storage.capabilities);
          if (why !== undefined) {
            await storage.close();
            test.skip(why);
          }
          const prefix = randomPrefix();
          const ctx: CaseContext = { storage, prefix, key: (n) => prefix + n, clock, ttl };
          let failure: { error: unknown } | undefined;
          try {
            await c.run(ctx);
          } catch (error) {
            failure = { error };
          }
          await removePrefix(storage, prefix);
          // A cleanup failure is reported, unless it would hide the case's own failure.
          try {
            await options.cleanup?.(storage);
            await storage.close();
          } catch (error) {
            failure ??= { error };
          }
          if (failure) throw failure.error;
        },
        timeout,
      );
    }
  });
}
