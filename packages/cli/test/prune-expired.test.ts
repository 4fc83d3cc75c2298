// `prune --expired` on a file storage (cli-s3.test.ts covers S3): the deadlines are written
// by the library, in the past by the CLI's clock, and the CLI deletes exactly those.
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStorage } from "@pepperpy/storage";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, runInProcess } from "./run-cli.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("prune --expired on a file storage", { timeout: 120_000 }, () => {
  it("deletes the keys whose deadline passed (value and sidecar), keeps the live ones, and reports the count", async () => {
    const cwd = await mkdtemp(join(tmpdir(), "pepperpy-cli-expired-"));
    dirs.push(cwd);
    const data = join(cwd, "data");
    const config = join(cwd, "files.yaml");
    await writeFile(config, `storage:\n  type: file\n  path: ${JSON.stringify(data)}\n`);

    // A writer whose clock runs an hour behind: a 1-minute ttl is a deadline 59 minutes in
    // the past by the CLI's clock (Date.now), so nothing has to sleep.
    const behind = new FileStorage(data, { fsync: false, clock: () => Date.now() - 3_600_000 });
    await behind.put("sessions/a", "expired a", { ttl: 60_000 });
    await behind.put("sessions/b", { expired: "b" }, { ttl: 60_000 });
    await behind.put("sessions/live", "live", { ttl: 2 * 3_600_000 }); // an hour ahead of real time
    await behind.put("sessions/forever", "no deadline");
    await behind.put("other/old", "expired, outside the prefix", { ttl: 60_000 });
    await behind.close();
    expect((await readdir(join(data, "sessions"))).sort(), "the expired values are on disk before the prune").toEqual([
      ".pepperpy-meta.a",
      ".pepperpy-meta.b",
      ".pepperpy-meta.forever",
      ".pepperpy-meta.live",
      "a",
      "b",
      "forever",
      "live",
    ]);

    // The CLI already hides them: expired keys are absent to every read.
    const ls = await runInProcess(["-c", config, "ls", "sessions/"]);
    expect(ls.code, ls.err).toBe(0);
    expect(ls.out).toBe("sessions/forever\nsessions/live\n");

    const purged = await runInProcess(["-c", config, "prune", "--expired", "sessions/", "--json"]);
    expect(purged.code, purged.err).toBe(0);
    expect(JSON.parse(purged.out)).toEqual({ prefix: "sessions/", expired: true, objects: 2 });

    // Gone from disk, sidecars included; the live and the never-expiring values are kept.
    expect((await readdir(join(data, "sessions"))).sort()).toEqual([".pepperpy-meta.forever", ".pepperpy-meta.live", "forever", "live"]);
    expect(existsSync(join(data, "other", "old")), "a key outside the prefix is left alone").toBe(true);
    const reader = new FileStorage(data, { fsync: false });
    expect(await reader.getText("sessions/live")).toBe("live");
    expect((await reader.stat("sessions/live")).expiresAt?.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
    expect(await reader.getText("sessions/forever")).toBe("no deadline");
    await reader.close();

    // The executable, in its own process, purges the rest of the storage; a second run finds nothing.
    const all = await runCli(["-c", config, "prune", "--expired"], { cwd });
    expect(all.code, all.err).toBe(0);
    expect(all.out).toBe("purged 1 expired object\n");
    expect(existsSync(join(data, "other", "old"))).toBe(false);
    const again = await runInProcess(["-c", config, "prune", "--expired", "sessions/"]);
    expect(again.out).toBe('purged 0 expired objects under "sessions/"\n');
    expect((await runInProcess(["-c", config, "ls"])).out).toBe("sessions/forever\nsessions/live\n");
  });
});
