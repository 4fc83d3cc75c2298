import { DeleteObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { StorageNotFoundError, StorageValidationError } from "@pepperpy/storage-core";
import { manualClock } from "@pepperpy/storage-testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPIRES_METADATA_KEY, EXPIRY_MARKER, type S3Storage, type S3StorageOptions } from "../src/index.js";
import { type S3Server, rawClient, s3StorageFor, startS3Server, uniqueBucket } from "./helpers.js";

let server: S3Server;
let bucket: string;
let n = 0;

beforeAll(async () => {
  server = await startS3Server();
  bucket = uniqueBucket("expiry");
  await server.createBucket(bucket);
});
afterAll(async () => {
  await server?.stop();
});

/** An S3Storage that counts the SDK commands it sends, and records their inputs. */
async function counted(prefix: string, extra: Partial<S3StorageOptions> = {}) {
  const storage = s3StorageFor(server, bucket, { prefix, ...extra });
  const counts: Record<string, number> = {};
  const inputs: { command: string; input: Record<string, unknown> }[] = [];
  (await storage.getClient()).middlewareStack.add(
    (next, context) => async (args) => {
      const command = (context as { commandName?: string }).commandName ?? "?";
      counts[command] = (counts[command] ?? 0) + 1;
      inputs.push({ command, input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: "initialize", name: `count-${++n}` },
  );
  const reset = () => {
    for (const k of Object.keys(counts)) delete counts[k];
    inputs.length = 0;
  };
  return { storage, counts, inputs, reset };
}

function freshPrefix(): string {
  return `p${Date.now().toString(36)}${(++n).toString(36)}`;
}

describe("S3 expiry (s3rver)", () => {
  it("stores the deadline as x-amz-meta-pepperpy-expires; another instance sees it, and hides the key from its deadline on", async () => {
    const clock = manualClock();
    const prefix = freshPrefix();
    const a: S3Storage = s3StorageFor(server, bucket, { prefix, clock: clock.now });
    const info = await a.put("session", { user: 1 }, { ttl: 60_000 });
    const head = await rawClient(server).send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/session` }));
    expect(head.Metadata?.[EXPIRES_METADATA_KEY]).toBe(String(info.expiresAt!.getTime()));
    // A second instance (what another process has): same bucket and prefix, its own client.
    const b = s3StorageFor(server, bucket, { prefix, clock: clock.now });
    expect((await b.stat("session")).expiresAt?.getTime()).toBe(info.expiresAt!.getTime());
    expect(await b.list()).toStrictEqual(["session"]);
    await clock.advance(60_000);
    await expect(b.get("session")).rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await b.exists("session")).toBe(false);
    expect(await b.list(), "b never wrote a deadline itself: the marker tells it to look").toStrictEqual([]);
    expect(await b.purgeExpired()).toBe(1);
    await a.close();
    await b.close();
  });

  it("listing cost: one marker HEAD per page while no value has a deadline; a HEAD per listed key once one has", async () => {
    const prefix = freshPrefix();
    const writer = s3StorageFor(server, bucket, { prefix });
    await writer.putMany(Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, "v"])));
    const reader = await counted(prefix);
    expect(await reader.storage.list()).toHaveLength(5);
    expect(reader.counts).toStrictEqual({ ListObjectsV2Command: 1, HeadObjectCommand: 1 });

    await writer.put("ttl", "v", { ttl: 60_000 });
    const marker = await rawClient(server).send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/${EXPIRY_MARKER}` }));
    expect(marker.ContentLength).toBeGreaterThan(0);
    reader.reset();
    expect(await reader.storage.list(), "the marker itself is never listed").toStrictEqual(["k0", "k1", "k2", "k3", "k4", "ttl"]);
    expect(reader.counts).toStrictEqual({ ListObjectsV2Command: 1, HeadObjectCommand: 1 + 6 });
    reader.reset();
    await reader.storage.list();
    expect(reader.counts, "the marker is HEADed once per instance once seen").toStrictEqual({ ListObjectsV2Command: 1, HeadObjectCommand: 6 });
    await reader.storage.close();
    await writer.close();
  });

  it('listExpiry "never" lists with no HEAD and shows expired keys until purged; "always" HEADs without a marker', async () => {
    const clock = manualClock();
    const prefix = freshPrefix();
    const writer = s3StorageFor(server, bucket, { prefix, clock: clock.now });
    await writer.put("gone", "v", { ttl: 1000 });
    await writer.put("kept", "v");
    await clock.advance(1000);
    const never = await counted(prefix, { listExpiry: "never", clock: clock.now });
    expect(await never.storage.list(), "documented trade-off: expired keys are listed").toStrictEqual(["gone", "kept"]);
    expect(never.counts).toStrictEqual({ ListObjectsV2Command: 1 });
    await expect(never.storage.get("gone"), "reads still hide them").rejects.toBeInstanceOf(StorageNotFoundError);
    expect(await never.storage.exists("gone")).toBe(false);

    // Deadlines set by another tool, with no marker: "always" still finds them.
    const other = freshPrefix();
    const raw = s3StorageFor(server, bucket, { prefix: other, clock: clock.now });
    await raw.put("x", "v", { ttl: 1000 });
    await rawClient(server).send(
      new DeleteObjectCommand({ Bucket: bucket, Key: `${other}/${EXPIRY_MARKER}` }),
    );
    await clock.advance(1000);
    const auto = s3StorageFor(server, bucket, { prefix: other, clock: clock.now });
    expect(await auto.list(), '"auto" without a marker does not look').toStrictEqual(["x"]);
    const always = s3StorageFor(server, bucket, { prefix: other, listExpiry: "always", clock: clock.now });
    expect(await always.list()).toStrictEqual([]);
    expect(await never.storage.purgeExpired(), '"never" still purges: purgeExpired always looks').toBe(1);
    for (const s of [writer, never.storage, raw, auto, always]) await s.close();
  });

  it("purgeExpired deletes with If-Match on the etag its HEAD saw", async () => {
    const clock = manualClock();
    const prefix = freshPrefix();
    const s = await counted(prefix, { clock: clock.now });
    const info = await s.storage.put("a", "v", { ttl: 1000 });
    await clock.advance(1000);
    s.reset();
    expect(await s.storage.purgeExpired()).toBe(1);
    const deletes = s.inputs.filter((i) => i.command === "DeleteObjectCommand");
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.input.IfMatch).toBe(info.etag);
    await s.storage.close();
  });

  it("rejects a bad listExpiry, and keys cannot name the marker", async () => {
    expect(() => s3StorageFor(server, bucket, { listExpiry: "sometimes" as "auto" })).toThrow(/listExpiry/);
    const s = s3StorageFor(server, bucket, { prefix: freshPrefix() });
    await expect(s.put(EXPIRY_MARKER, "x")).rejects.toBeInstanceOf(StorageValidationError);
    await s.close();
  });
});
