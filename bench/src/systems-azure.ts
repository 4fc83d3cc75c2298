// Azure Blob Storage: ours (AzureBlobStorage) and @azure/storage-blob used directly, both
// against the Azurite run.ts starts on loopback. systems.ts lists these in SYSTEMS.
import { type Adapter, type SystemEnv, UnavailableError } from "./adapter.js";
import type { WorkloadId } from "./config.js";
import { type SystemDef, load, ours } from "./systems.js";

type AzureSdk = typeof import("@azure/storage-blob");

function connectionString(env: SystemEnv): string {
  if (!env.azureConnectionString) throw new UnavailableError("no Azurite (not installed, or it did not start)");
  return env.azureConnectionString;
}

/** A container of its own per job (the job's bucket name is a valid container name), created here. */
async function containerFor(env: SystemEnv) {
  const sdk = await load<AzureSdk>("@azure/storage-blob");
  const container = sdk.BlobServiceClient.fromConnectionString(connectionString(env)).getContainerClient(env.bucket);
  await container.create();
  return container;
}

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function missing(error: unknown): boolean {
  return (error as { statusCode?: number })?.statusCode === 404;
}

/**
 * `@azure/storage-blob` used directly: `BlockBlobClient.upload` (one Put Blob), `download`,
 * `exists`, `delete`, and `listBlobsFlat` by pages of 5000.
 */
async function rawAzureBlob(env: SystemEnv): Promise<Adapter> {
  const container = await containerFor(env);
  return {
    async put(key, value) {
      await container.getBlockBlobClient(key).upload(value, value.byteLength);
    },
    async get(key) {
      try {
        const res = await container.getBlockBlobClient(key).download();
        return await readAll(res.readableStreamBody!);
      } catch (error) {
        if (missing(error)) return undefined;
        throw error;
      }
    },
    exists: (key) => container.getBlockBlobClient(key).exists(),
    async list(prefix) {
      // Blob names of the workloads are ASCII: the service's order is code-point order.
      const keys: string[] = [];
      for await (const page of container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 5000 })) {
        for (const item of page.segment.blobItems) keys.push(item.name);
      }
      return keys;
    },
    async delete(key) {
      try {
        await container.getBlockBlobClient(key).delete();
      } catch (error) {
        if (!missing(error)) throw error;
      }
    },
    // Each job leaves an empty Azurite behind, so the next system meets the same server state.
    close: () => container.delete().then(() => undefined),
  };
}

const KV: WorkloadId[] = ["small", "medium", "large", "list"];
const DURABILITY = "whatever the server acknowledges (Azurite, blob data in files under the run's temp dir)";

/** The Azure Blob rows of the table. */
export const AZURE_SYSTEMS: SystemDef[] = [
  {
    id: "azure-blob",
    kind: "ours",
    label: "AzureBlobStorage → Azurite 3 (loopback)",
    durability: DURABILITY,
    workloads: KV,
    baseline: "raw-azure-blob",
    create: async (env) => {
      const { AzureBlobStorage } = await load<typeof import("@pepperpy/storage-azure-blob")>("@pepperpy/storage-azure-blob");
      const container = await containerFor(env);
      const adapter = ours(new AzureBlobStorage({ container: env.bucket, connectionString: connectionString(env) }));
      return {
        ...adapter,
        close: async () => {
          await adapter.close();
          await container.delete();
        },
      };
    },
  },
  {
    id: "raw-azure-blob",
    kind: "raw",
    label: "@azure/storage-blob BlockBlobClient upload/download → Azurite 3 (loopback)",
    durability: DURABILITY,
    workloads: KV,
    create: (env) => rawAzureBlob(env),
  },
];
