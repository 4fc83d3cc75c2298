import { CompositeStorage } from "@pepperpy/storage-core";
import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";

describeStorageConformance("composite(memory, memory)", () => new CompositeStorage([new MemoryStorage(), new MemoryStorage()]));

describeStorageConformance(
  "composite(memory, memory) without read repair",
  () => new CompositeStorage([new MemoryStorage(), new MemoryStorage()], { readRepair: false }),
);
