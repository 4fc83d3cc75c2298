import { randomBytes } from "node:crypto";
import { StorageError, StorageNotFoundError } from "@pepperpy/storage-core";
import { RetryStorage } from "@pepperpy/storage-retry";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FaultProxy } from "./fault-proxy.js";
import { type S3Server, s3StorageFor, sha256, startS3Server } from "./helpers.js";

// The fault run: RetryStorage in front of S3Storage, the SDK making one attempt per
// request (maxAttempts: 1), so the retry layer alone owns retries and the attempts per
// operation are bounded by maxRetries + 1, which the proxy checks by counting requests.
const OPS = 1000;
const FAULT_RATE = 0.25;
const MAX_RETRIES = 5;
const CONFIGURED_ATTEMPTS = MAX_RETRIES + 1;
const KEYS = 48;
const PARALLEL = 8;
const PREFIX = "faults";

let server: S3Server;
let proxy: FaultProxy;
const bucket = "faults";

beforeAll(async () => {
  server = await startS3Server({ bucket });
  proxy = await new FaultProxy({ targetPort: server.port, faultRate: 0, seed: 20240601 }).listen();
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

/** What a key may hold now: sha256 hex digests, or "absent". More than one after a write that failed (it may or may not have happened). */
type Candidates = Set<string>;

it(`${OPS} mixed operations at a ${FAULT_RATE * 100} % fault rate lose no acknowledged write and report no false success`, { timeout: 170_000 }, async () => {
  const backend = s3StorageFor(server, bucket, { prefix: PREFIX, endpoint: proxy.url, maxAttempts: 1, requestTimeout: 400, timeout: 2000 });
  const storage = new RetryStorage({ backend, maxRetries: MAX_RETRIES, delay: 5, maxDelay: 40, budget: Number.POSITIVE_INFINITY });
  const keys = Array.from({ length: KEYS }, (_, i) => `k/${String(i).padStart(2, "0")}`);
  const model = new Map<string, Candidates>(keys.map((k) => [k, new Set(["absent"])]));
  // The first missing-key stat checks the bucket once (HeadBucket); do it before faults start.
  expect(await storage.exists("k/never")).toBe(false);

  const stats = { ops: 0, ok: 0, failed: 0, acknowledgedWrites: 0, lostWrites: 0, falseSuccesses: 0, maxAttempts: 0, nonStorageErrors: 0 };
  const failuresByCode = new Map<string, number>();
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };

  const check = (ok: boolean, what: string) => {
    if (!ok) {
      stats.falseSuccesses++;
      console.error(`false success: ${what}`);
    }
  };

  async function runOp(key: string): Promise<void> {
    const full = `${PREFIX}/${key}`;
    const before = proxy.count(full);
    const candidates = model.get(key)!;
    const r = rand();
    stats.ops++;
    try {
      if (r < 0.45) {
        const value = rand() < 0.5 ? randomBytes(Math.floor(rand() * 48 * 1024)) : `text ${rand()} ${"é".repeat(Math.floor(rand() * 500))}`;
        const digest = sha256(value);
        try {
          await storage.put(key, value);
        } catch (error) {
          candidates.add(digest); // may have happened
          throw error;
        }
        stats.acknowledgedWrites++;
        model.set(key, new Set([digest]));
      } else if (r < 0.8) {
        try {
          const got = await storage.getBytes(key);
          const digest = sha256(got);
          if (!candidates.has(digest)) {
            if (candidates.size === 1 && !candidates.has("absent")) stats.lostWrites++;
            check(false, `get ${key} returned ${got.byteLength} bytes that were never written`);
          }
          model.set(key, new Set([digest]));
        } catch (error) {
          if (!(error instanceof StorageNotFoundError)) throw error;
          if (!candidates.has("absent")) {
            stats.lostWrites++;
            check(false, `get ${key}: not found after an acknowledged write`);
          }
          model.set(key, new Set(["absent"]));
        }
      } else if (r < 0.9) {
        try {
          await storage.delete(key);
        } catch (error) {
          candidates.add("absent");
          throw error;
        }
        model.set(key, new Set(["absent"]));
      } else {
        const exists = await storage.exists(key);
        check(exists ? [...candidates].some((c) => c !== "absent") : candidates.has("absent"), `exists ${key} = ${exists}`);
      }
      stats.ok++;
    } catch (error) {
      stats.failed++;
      if (!(error instanceof StorageError)) stats.nonStorageErrors++;
      const code = error instanceof StorageError ? error.code : "non-storage";
      failuresByCode.set(code, (failuresByCode.get(code) ?? 0) + 1);
    } finally {
      stats.maxAttempts = Math.max(stats.maxAttempts, proxy.count(full) - before);
    }
  }

  proxy.faultRate = FAULT_RATE;
  const requestsBefore = proxy.requests;
  let done = 0;
  let lists = 0;
  let listFailures = 0;
  while (done < OPS) {
    // A round: distinct keys in parallel, so the proxy's per-key count is per operation.
    const pool = [...keys];
    const round: string[] = [];
    for (let i = 0; i < PARALLEL && done + round.length < OPS; i++) round.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
    await Promise.all(round.map(runOp));
    done += round.length;
    if (done % 80 === 0) {
      // A listing between rounds: every key it shows must be one that may exist, and every
      // key known to exist must be shown.
      lists++;
      try {
        const listed = new Set(await storage.list("k/"));
        for (const [k, c] of model) {
          if (listed.has(k)) check([...c].some((x) => x !== "absent"), `list shows ${k}`);
          else check(c.has("absent"), `list misses ${k}`);
        }
      } catch {
        listFailures++;
      }
    }
  }
  const requests = proxy.requests - requestsBefore;
  proxy.faultRate = 0;

  // Faults off: every key holds its acknowledged value, or one of the candidates of a write that failed.
  let verified = 0;
  for (const [k, c] of model) {
    let digest = "absent";
    try {
      digest = sha256(await storage.getBytes(k));
    } catch (error) {
      if (!(error instanceof StorageNotFoundError)) throw error;
    }
    if (!c.has(digest)) {
      if (c.size === 1 && !c.has("absent")) stats.lostWrites++;
      check(false, `final read of ${k}`);
    }
    verified++;
  }

  const report = {
    ...stats,
    requests,
    faultsInjected: proxy.totalFaults,
    faultsByMode: proxy.faults,
    failuresByCode: Object.fromEntries(failuresByCode),
    lists,
    listFailures,
    keysVerified: verified,
    configuredAttempts: CONFIGURED_ATTEMPTS,
    retryLayer: "RetryStorage (SDK maxAttempts: 1)",
  };
  console.log(`fault run: ${JSON.stringify(report)}`);
  expect(stats.ops).toBe(OPS);
  expect(stats.lostWrites).toBe(0);
  expect(stats.falseSuccesses).toBe(0);
  expect(stats.nonStorageErrors).toBe(0);
  expect(stats.maxAttempts).toBeLessThanOrEqual(CONFIGURED_ATTEMPTS);
  // The run really was faulty, and retries made most operations succeed anyway.
  expect(proxy.totalFaults).toBeGreaterThan(OPS * FAULT_RATE * 0.5);
  expect(stats.ok).toBeGreaterThan(OPS * 0.9);
  await storage.close();
});

it("with the SDK owning retries instead, requests per operation never exceed its maxAttempts", { timeout: 60_000 }, async () => {
  const storage = s3StorageFor(server, bucket, { prefix: "sdk", endpoint: proxy.url, maxAttempts: 3, requestTimeout: 400, timeout: 5000 });
  proxy.faultRate = 0;
  await storage.put("warm", "x");
  proxy.faultRate = 0.5;
  proxy.modes = ["500", "503", "reset"];
  let maxSeen = 0;
  let ok = 0;
  for (let i = 0; i < 40; i++) {
    const key = `s/${i}`;
    const before = proxy.count(`sdk/${key}`);
    try {
      await storage.put(key, `v${i}`);
      ok++;
    } catch (error) {
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).retryable).toBe(true);
    }
    maxSeen = Math.max(maxSeen, proxy.count(`sdk/${key}`) - before);
  }
  proxy.faultRate = 0;
  console.log(`SDK retries: 40 puts at 50 % faults, ${ok} succeeded, max requests per put ${maxSeen} (maxAttempts 3)`);
  expect(maxSeen).toBeLessThanOrEqual(3);
  expect(maxSeen).toBeGreaterThan(1);
  await storage.close();
});
