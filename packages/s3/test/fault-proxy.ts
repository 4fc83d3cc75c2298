import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from "node:http";
import type { Socket } from "node:net";

/**
 * What the proxy does to a request it picks for a fault:
 * - `500`: answers 500 InternalError without forwarding
 * - `503`: answers 503 SlowDown without forwarding
 * - `reset`: destroys the connection without forwarding
 * - `reset-mid-body`: forwards, sends the headers and half the body, then destroys the connection
 * - `truncate`: forwards, sends the headers and half the body, then ends the connection cleanly (FIN)
 * - `hang`: forwards nothing and never answers
 * - `lost-response`: forwards (the server does the work), then destroys the connection
 *   before sending a byte of the answer: a lost response
 */
export type FaultMode = "500" | "503" | "reset" | "reset-mid-body" | "truncate" | "hang" | "lost-response";

export const ALL_FAULTS: readonly FaultMode[] = ["500", "503", "reset", "reset-mid-body", "truncate", "hang"];

export interface FaultProxyOptions {
  /** Port of the upstream server on 127.0.0.1. */
  targetPort: number;
  /** Probability that a request gets a fault (0..1). */
  faultRate?: number;
  /** Faults to pick from (uniformly). */
  modes?: readonly FaultMode[];
  /** Seed of the deterministic random generator. */
  seed?: number;
  /** Only requests for which this returns true can get a fault. */
  filter?: (req: IncomingMessage) => boolean;
  /** Rewrites an upstream answer's body before it is sent on (a misbehaving server); `undefined` keeps it. */
  rewrite?: (req: IncomingMessage, body: Buffer) => Buffer | undefined;
}

/** A loopback HTTP proxy that injects faults between an S3 client and s3rver, and counts requests per key. */
export class FaultProxy {
  readonly server: Server;
  port = 0;
  faultRate: number;
  modes: readonly FaultMode[];
  filter: ((req: IncomingMessage) => boolean) | undefined;
  rewrite: ((req: IncomingMessage, body: Buffer) => Buffer | undefined) | undefined;
  /** Requests seen, in total. */
  requests = 0;
  /** Faults injected, by mode. */
  readonly faults: Record<FaultMode, number> = { "500": 0, "503": 0, reset: 0, "reset-mid-body": 0, truncate: 0, hang: 0, "lost-response": 0 };
  /** Requests seen per object key (the URL path after the bucket); "" for bucket-level requests. */
  readonly perKey = new Map<string, number>();
  /** Method and URL of every request, in order (for assertions on what was sent). */
  readonly log: { method: string; url: string; headers: IncomingMessage["headers"]; keysInBody?: number }[] = [];
  private readonly targetPort: number;
  private readonly sockets = new Set<Socket>();
  private rng: () => number;

  constructor(options: FaultProxyOptions) {
    this.targetPort = options.targetPort;
    this.faultRate = options.faultRate ?? 0;
    this.modes = options.modes ?? ALL_FAULTS;
    this.filter = options.filter;
    this.rewrite = options.rewrite;
    let s = options.seed ?? 42;
    // mulberry32: a small seeded generator, so a failing run can be replayed.
    this.rng = () => {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get totalFaults(): number {
    return Object.values(this.faults).reduce((a, b) => a + b, 0);
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests seen so far for `key` (the full S3 key). */
  count(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  private keyOf(url: string): string {
    const path = url.split("?")[0] ?? "";
    const parts = path.split("/").slice(2); // "", bucket, ...key
    return decodeURIComponent(parts.join("/"));
  }

  private pickFault(req: IncomingMessage): FaultMode | undefined {
    if (this.faultRate <= 0 || (this.filter && !this.filter(req))) return undefined;
    if (this.rng() >= this.faultRate) return undefined;
    return this.modes[Math.floor(this.rng() * this.modes.length)];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const key = this.keyOf(req.url ?? "/");
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    const entry: (typeof this.log)[number] = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    this.log.push(entry);
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return;
    }
    const body = Buffer.concat(chunks);
    // DeleteObjects: how many keys the request carried.
    if (entry.method === "POST" && entry.url.includes("?delete")) entry.keysInBody = body.toString("utf8").split("<Key>").length - 1;
    const fault = this.pickFault(req);
    if (fault) this.faults[fault]++;
    switch (fault) {
      case "500":
        return this.s3Error(res, 500, "InternalError", "We encountered an internal error. Please try again.");
      case "503":
        return this.s3Error(res, 503, "SlowDown", "Please reduce your request rate.");
      case "reset":
        req.socket.destroy();
        return;
      case "hang":
        return; // never answered; the client's timeout has to fire
    }
    const upstream = await this.forward(req, body).catch(() => undefined);
    if (!upstream) {
      req.socket.destroy();
      return;
    }
    if (fault === "lost-response") {
      req.socket.destroy();
      return;
    }
    const rewritten = this.rewrite?.(req, upstream.body);
    if (rewritten !== undefined) {
      upstream.body = rewritten;
      upstream.headers["content-length"] = String(rewritten.byteLength);
    }
    if (fault === "reset-mid-body" || fault === "truncate") {
      // The upstream request already ran: a write has happened, the client cannot know.
      res.writeHead(upstream.status, upstream.headers);
      res.flushHeaders();
      const half = upstream.body.subarray(0, Math.floor(upstream.body.byteLength / 2));
      if (half.byteLength > 0) res.write(half);
      const socket = req.socket;
      setTimeout(() => (fault === "truncate" ? socket.end() : socket.destroy()), 5);
      return;
    }
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  private s3Error(res: ServerResponse, status: number, code: string, message: string): void {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
    res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(xml) });
    res.end(xml);
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      const up = httpRequest(
        { host: "127.0.0.1", port: this.targetPort, method: req.method, path: req.url, headers },
        (upRes) => {
          const parts: Buffer[] = [];
          upRes.on("data", (c: Buffer) => parts.push(c));
          upRes.on("end", () => {
            const h: Record<string, string | string[]> = {};
            for (const [k, v] of Object.entries(upRes.headers)) if (v !== undefined && k !== "connection" && k !== "transfer-encoding") h[k] = v;
            const b = Buffer.concat(parts);
            if (req.method !== "HEAD" && h["content-length"] === undefined) h["content-length"] = String(b.byteLength);
            resolve({ status: upRes.statusCode ?? 502, headers: h, body: b });
          });
          upRes.on("error", reject);
        },
      );
      up.on("error", reject);
      up.end(body);
    });
  }
}

/** A server that accepts connections and never answers: a black-holed endpoint. */
export async function startBlackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer(() => undefined);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
