import { describe, expect, it, vi } from "vitest";
import { addDeadline, cancelDeadline } from "../src/deadlines.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("deadline queues", () => {
  it("fires each uncancelled deadline once, in order, not before its time", async () => {
    const fired: number[] = [];
    const started = performance.now();
    const times: number[] = [];
    const ds = Array.from({ length: 5 }, (_, i) =>
      addDeadline(40, () => {
        fired.push(i);
        times.push(performance.now() - started);
      }),
    );
    cancelDeadline(ds[1]!);
    cancelDeadline(ds[3]!);
    await vi.waitFor(() => expect(fired).toHaveLength(3), { timeout: 5000 });
    await sleep(20);
    expect(fired).toEqual([0, 2, 4]);
    for (const t of times) expect(t).toBeGreaterThanOrEqual(39);
  });

  it("does not fire cancelled deadlines even when all are cancelled", async () => {
    let fired = 0;
    const ds = Array.from({ length: 3000 }, () => addDeadline(25, () => fired++));
    for (const d of ds) cancelDeadline(d);
    await sleep(80);
    expect(fired).toBe(0);
  });

  it("serves deadlines of many lengths, past the shared-queue limit", async () => {
    const fired: number[] = [];
    for (let ms = 10; ms < 10 + 50; ms++) addDeadline(ms + 0.25, () => fired.push(ms));
    await vi.waitFor(() => expect(fired).toHaveLength(50), { timeout: 5000 });
    expect([...fired].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => 10 + i));
  });

  it("a deadline added after the queue drained is still armed", async () => {
    let a = 0;
    cancelDeadline(addDeadline(15, () => a++));
    await sleep(30);
    addDeadline(15, () => a++);
    await vi.waitFor(() => expect(a).toBe(1), { timeout: 5000 });
  });
});
