import { MemoryStorage } from "@pepperpy/storage-memory";
import { describeStorageConformance } from "@pepperpy/storage-testing";

describeStorageConformance("memory", () => new MemoryStorage());
