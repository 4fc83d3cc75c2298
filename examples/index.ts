/** Every example, in the order of the storage guide (the seed document). */
import { basicUsage } from "./basic-usage.js";
import { cache } from "./cache.js";
import { composite } from "./composite.js";
import { compression } from "./compression.js";
import { config } from "./config.js";
import { encryption } from "./encryption.js";
import { errorHandling } from "./error-handling.js";
import { events } from "./events.js";
import { fileStorage } from "./file-storage.js";
import { memoryStorage } from "./memory-storage.js";
import { metrics } from "./metrics.js";
import { mountsAndExpiry } from "./mounts-and-expiry.js";
import { retry } from "./retry.js";
import { s3Storage } from "./s3-storage.js";
import { sqlite } from "./sqlite.js";
import type { Example } from "./support.js";
import { testing } from "./testing.js";

export const EXAMPLES: readonly Example[] = [
  basicUsage,
  fileStorage,
  memoryStorage,
  s3Storage,
  cache,
  compression,
  encryption,
  retry,
  metrics,
  composite,
  mountsAndExpiry,
  sqlite,
  events,
  errorHandling,
  config,
  testing,
];
