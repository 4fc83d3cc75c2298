import { BlobServiceClient } from "@azure/storage-blob";
import { AzureBlobStorage, type AzureBlobStorageOptions } from "../src/index.js";
import type { Azurite } from "./azurite.js";

export { startAzurite, type Azurite, AZURITE_ACCOUNT, AZURITE_KEY } from "./azurite.js";

let counter = 0;

/** A fresh container name per call, so test files and cases never share state. */
export function uniqueContainer(label = "t"): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`.toLowerCase();
}

/** Creates a container on the server. */
export async function createContainer(server: Azurite, name: string): Promise<void> {
  await BlobServiceClient.fromConnectionString(server.connectionString).getContainerClient(name).createIfNotExists();
}

/** An AzureBlobStorage on Azurite; extra options override. */
export function azureStorageFor(server: Azurite, container: string, extra: Partial<AzureBlobStorageOptions> = {}): AzureBlobStorage {
  return new AzureBlobStorage({ container, connectionString: server.connectionString, ...extra });
}
