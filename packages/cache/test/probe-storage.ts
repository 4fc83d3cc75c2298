import {
  type DriverContext,
  ForwardingDriver,
  LayerStorage,
  type ObjectInfo,
  type Storage,
  type StoredEntry,
  type WriteRequest,
} from "@pepperpy/storage-core";

/** Hooks a test sets to hold or fail backend calls at chosen points. */
export interface ProbeHooks {
  /** Runs after the backend read returned, before the result is handed up (hold a read that saw the old value). */
  afterRead?: (key: string, ctx: DriverContext) => Promise<void> | void;
  /** Runs before the backend read (fail it, or hold it). */
  beforeRead?: (key: string, ctx: DriverContext) => Promise<void> | void;
  /** Runs before the backend write. */
  beforeWrite?: (key: string, ctx: DriverContext) => Promise<void> | void;
  /** Runs after the backend write landed (throw to simulate a failure after the fact). */
  afterWrite?: (key: string, ctx: DriverContext) => Promise<void> | void;
}

class ProbeDriver extends ForwardingDriver {
  reads = 0;
  stats = 0;
  writes = 0;
  hooks: ProbeHooks = {};

  override async read(key: string, ctx: DriverContext): Promise<StoredEntry | undefined> {
    this.reads++;
    await this.hooks.beforeRead?.(key, ctx);
    const entry = await super.read(key, ctx);
    await this.hooks.afterRead?.(key, ctx);
    return entry;
  }

  override stat(key: string, ctx: DriverContext): Promise<ObjectInfo | undefined> | ObjectInfo | undefined {
    this.stats++;
    return super.stat(key, ctx);
  }

  override async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    this.writes++;
    await this.hooks.beforeWrite?.(key, ctx);
    const info = await super.write(key, req, ctx);
    await this.hooks.afterWrite?.(key, ctx);
    return info;
  }
}

/** A real storage wrapped to count backend calls and let tests hold or fail them. */
export class ProbeStorage extends LayerStorage<ProbeDriver> {
  constructor(backend: Storage) {
    super(new ProbeDriver(backend, "probe"));
  }
  get reads(): number {
    return this.driver.reads;
  }
  get stats(): number {
    return this.driver.stats;
  }
  get writes(): number {
    return this.driver.writes;
  }
  get hooks(): ProbeHooks {
    return this.driver.hooks;
  }
}

/** A promise with its resolve function, to hold a call until the test releases it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
