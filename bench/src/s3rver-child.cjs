// Runs s3rver on 127.0.0.1 with an ephemeral port and prints {"port": N} on stdout.
// Started by s3-server.ts under `node --openssl-legacy-provider` (s3rver's list
// continuation tokens use DES, which OpenSSL 3 only offers in the legacy provider).
"use strict";
const S3rver = require("s3rver");

const directory = process.argv[2];
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
server.run().then(
  (addr) => process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
process.on("SIGTERM", () => server.close().finally(() => process.exit(0)));
