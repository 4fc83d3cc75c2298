import {
  type DriverContext,
  ForwardingDriver,
  LayerStorage,
  type ListPage,
  type ObjectInfo,
  type Storage,
  type StoredEntry,
  type WriteRequest,
} from "@pepperpy/storage-core";

/** One backend call as the flaky layer saw it. */
export interface FlakyCall {
  op: string;
  key: string;
  /** `Date.now()` at the call (fake time under `vi.useFakeTimers`). */
  at: number;
  signal: AbortSignal;
}

class FlakyDriver extends ForwardingDriver {
  readonly calls: FlakyCall[] = [];
  /** Decides per call: an error to throw before the call reaches the backend, or nothing. */
  fail: ((call: FlakyCall) => unknown) | undefined;

  private check(op: string, key: string, ctx: DriverContext): void {
    const call = { op, key, at: Date.now(), signal: ctx.signal };
    this.calls.push(call);
    const error = this.fail?.(call);
    if (error) throw error;
  }

  /** Decides per read: hang until the call's signal aborts (a server that never answers). */
  hang: ((call: FlakyCall) => boolean) | undefined;

  override async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    this.check("read", key, ctx);
    if (this.hang?.(this.calls[this.calls.length - 1]!)) {
      await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
    }
    return super.read(key, ctx);
  }
  override async stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> {
    this.check("stat", key, ctx);
    return super.stat(key, ctx);
  }
  override async exists(key: string, ctx: DriverContext): Promise<boolean> {
    this.check("exists", key, ctx);
    return super.exists(key, ctx);
  }
  override async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    this.check("write", key, ctx);
    return super.write(key, req, ctx);
  }
  override async delete(key: string, ctx: DriverContext): Promise<void> {
    this.check("delete", key, ctx);
    return super.delete(key, ctx);
  }
  override async list(prefix: string, page: { cursor?: string | undefined; limit: number }, ctx: DriverContext): Promise<ListPage> {
    this.check("list", prefix, ctx);
    return super.list(prefix, page, ctx);
  }
}

/** A real storage behind a layer that fails calls on demand and records them. */
export class FlakyStorage extends LayerStorage<FlakyDriver> {
  constructor(backend: Storage) {
    super(new FlakyDriver(backend, "flaky"));
  }
  get calls(): FlakyCall[] {
    return this.driver.calls;
  }
  set failWith(fn: ((call: FlakyCall) => unknown) | undefined) {
    this.driver.fail = fn;
  }
  /** Reads for which this returns true hang until aborted. */
  set hangWhen(fn: ((call: FlakyCall) => boolean) | undefined) {
    this.driver.hang = fn;
  }
}
