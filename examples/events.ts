/** Seed "Events": storage.put / storage.get / storage.delete / storage.error. */
import assert from "node:assert/strict";
import type { StorageEvent, StorageEventName } from "@pepperpy/storage";
import { type Example, runAsScript } from "./support.js";

export const events: Example = {
  title: "Events",
  file: "examples/events.ts",
  section: "Events",
  async run({ backend: storage, log }) {
    const seen: string[] = [];
    const names: StorageEventName[] = ["storage.put", "storage.get", "storage.delete", "storage.error"];
    const listener = (name: StorageEventName) => (e: StorageEvent) => {
      seen.push(name);
      log(`${name} ${e.operation} "${e.key}"${e.bytes !== undefined ? ` ${e.bytes} B` : ""}${e.error ? ` ${e.error.code}` : ""}`);
    };
    const listeners = names.map((n) => [n, listener(n)] as const);
    for (const [n, l] of listeners) storage.on(n, l);
    try {
      await storage.put("events/key", "value");
      await storage.get("events/key");
      await storage.delete("events/key");
      await storage.get("events/key").catch(() => undefined);
    } finally {
      for (const [n, l] of listeners) storage.off(n, l);
    }
    assert.deepEqual(seen, names);
  },
};

runAsScript(import.meta.url, events);
