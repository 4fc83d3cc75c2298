// The layer of docs/writing-a-layer.md, compiled and tested by packages/storage/test/docs-examples.test.ts.
import {
  type DriverContext,
  ForwardingDriver,
  LayerStorage,
  type LayerOptions,
  type ObjectInfo,
  type Storage,
  type WriteRequest,
  handOver,
  registerLayer,
} from "@pepperpy/storage";

class UpperCaseDriver extends ForwardingDriver {
  override async write(key: string, req: WriteRequest, ctx: DriverContext): Promise<ObjectInfo> {
    if (req.valueType === "text" && req.body instanceof Uint8Array) {
      // handOver: these new bytes go to the inner storage's put without a second copy.
      const upper = handOver(Buffer.from(Buffer.from(req.body).toString("utf8").toUpperCase(), "utf8"));
      return super.write(key, { ...req, body: upper, size: upper.byteLength }, ctx);
    }
    return super.write(key, req, ctx);
  }
}

/** Stores text values upper-cased. */
export class UpperCaseStorage extends LayerStorage<UpperCaseDriver> {
  constructor(options: LayerOptions) {
    super(new UpperCaseDriver(options.backend, "upper"), options);
  }
}

registerLayer({
  name: "upper",
  order: 35, // between compression (30) and encryption (40)
  create: (backend: Storage) => new UpperCaseStorage({ backend }),
});
