import type { StorageEvent, StorageEventName, StorageListener } from "./types.js";

/**
 * A small typed emitter. Unlike `node:events`, a listener that throws never breaks the
 * operation that emitted: the error is reported as a process warning and the remaining
 * listeners still run.
 */
export class StorageEvents {
  private readonly listeners = new Map<StorageEventName, StorageListener[]>();
  private count = 0;

  /** True when anyone listens to any event (calls then measure their duration). */
  get active(): boolean {
    return this.count > 0;
  }

  /** True when anyone listens to `name` (checked before building an event). */
  has(name: StorageEventName): boolean {
    const list = this.listeners.get(name);
    return list !== undefined && list.length > 0;
  }

  on(name: StorageEventName, listener: StorageListener): void {
    const list = this.listeners.get(name);
    // Copy on write, so a listener removing itself during emit does not skip another.
    this.listeners.set(name, list ? [...list, listener] : [listener]);
    this.count++;
  }

  off(name: StorageEventName, listener: StorageListener): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const i = list.lastIndexOf(listener);
    if (i === -1) {
      // A `once` wrapper: remove by the original listener.
      const j = list.findIndex((l) => (l as OnceWrapper).original === listener);
      if (j === -1) return;
      this.listeners.set(name, [...list.slice(0, j), ...list.slice(j + 1)]);
      this.count--;
      return;
    }
    this.listeners.set(name, [...list.slice(0, i), ...list.slice(i + 1)]);
    this.count--;
  }

  once(name: StorageEventName, listener: StorageListener): void {
    const wrapper: OnceWrapper = (event) => {
      this.off(name, wrapper);
      listener(event);
    };
    wrapper.original = listener;
    this.on(name, wrapper);
  }

  emit(name: StorageEventName, event: StorageEvent): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (error) {
        process.emitWarning(`A listener of ${name} threw: ${error instanceof Error ? error.message : String(error)}`, {
          code: "PEPPERPY_STORAGE_LISTENER",
        });
      }
    }
  }

  removeAll(): void {
    this.listeners.clear();
    this.count = 0;
  }
}

type OnceWrapper = StorageListener & { original?: StorageListener };
