import { describeStorageConformance } from "@pepperpy/storage-testing";
import { afterAll, beforeAll } from "vitest";
import { type Azurite, azureStorageFor, createContainer, startAzurite } from "./helpers.js";

// One Azurite for the file, started on 127.0.0.1 by the test setup in a child process.
let server: Azurite | undefined;
const container = "conformance";

beforeAll(async () => {
  server = await startAzurite();
  await createContainer(server, container);
});
afterAll(async () => {
  await server?.stop();
});

describeStorageConformance("azure-blob (Azurite)", () => azureStorageFor(server!, container, { prefix: "suite" }));
