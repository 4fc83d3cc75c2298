// The layer of docs/writing-a-layer.md, compiled and tested by packages/storage/test/docs-examples.test.ts.
import {
  type DriverContext,
  ForwardingDriver,
  type Layer,
  LayerStorage,
  type LayerOptions,
  type MaybePromise,
  type ObjectInfo,
  type WriteRequest,
  registerLayer,
} from "@pepperpy/storage";

/** Upper-cases text values on write; reads, bytes and JSON values pass through unchanged. */
class UpperCaseDriver extends ForwardingDriver {
  override write(key: string, req: WriteRequest, ctx: DriverContext): MaybePromise<ObjectInfo> {
    if (req.valueType === "text" && req.body instanceof Uint8Array) {
      const upper = Buffer.from(Buffer.from(req.body).toString("utf8").toUpperCase(), "utf8");
      // The layer made these bytes: they belong to the write (`owned`), nobody copies them again.
      return super.write(key, { ...req, body: upper, size: upper.byteLength, owned: true }, ctx);
    }
    return super.write(key, req, ctx);
  }
}

// 1. The layer itself, a driver transform: `stack(backend, [upperCase])`.
export const upperCase: Layer = (inner) => new UpperCaseDriver(inner, "upper");

// 2. A storage class over any backend: `new UpperCaseStorage({ backend })`.
/** Stores text values upper-cased. */
export class UpperCaseStorage extends LayerStorage<UpperCaseDriver> {
  constructor(options: LayerOptions) {
    super(new UpperCaseDriver(options.backend, "upper"), options);
  }
}

// 3. From config: `options: { upper: true }`. Declaration merging makes the name known to
// the compiler; the plugin makes it known at run time.
declare module "@pepperpy/storage-core" {
  interface LayerConfigTypes {
    upper: {};
  }
}
registerLayer({
  name: "upper",
  order: 35, // between compression (30) and encryption (40)
  // `timeout` and `maxSize` reach the layer when the config sets them (`max_size` goes to the outermost layer only).
  create: (backend, options) =>
    new UpperCaseStorage({ backend, timeout: options.timeout as number | undefined, maxSize: options.maxSize as number | undefined }),
});
