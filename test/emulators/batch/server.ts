/**
 * The Batch emulator on HTTP: AWS Batch's REST-JSON wire protocol (`POST /v1/<operation>` with a JSON
 * body; errors as an `x-amzn-errortype` header plus `{message}`), enough for the real
 * `@aws-sdk/client-batch`. Signatures are not checked.
 *
 *   const batch = await startBatchEmulator({ images: { trainer: [process.execPath, 'cli.js'] } });
 *   await batch.client.send(new RegisterJobDefinitionCommand({ ... }));
 *   process.env.AWS_ENDPOINT_URL_BATCH = batch.endpoint;   // or Object.assign(process.env, batch.env)
 *   await batch.stop();
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchClient } from '@aws-sdk/client-batch';
import { BatchEmulator, type BatchEmulatorOptions, BatchError } from './emulator.ts';

export interface BatchEmulatorServerOptions extends BatchEmulatorOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
}

export interface BatchEmulatorServer {
  /** http://<host>:<port> */
  endpoint: string;
  emulator: BatchEmulator;
  /** A client for this server (test credentials). */
  client: BatchClient;
  /** The standard AWS environment that points an SDK client at this server. */
  env: Record<string, string>;
  /** Shorthands for emulator.jobs / requests / update / logs. */
  jobs: BatchEmulator['jobs'];
  requests: BatchEmulator['requests'];
  update: BatchEmulator['update'];
  logs: BatchEmulator['logs'];
  /** Stops every container, then the server. */
  stop(): Promise<void>;
}

export async function startBatchEmulator(o: BatchEmulatorServerOptions = {}): Promise<BatchEmulatorServer> {
  const emulator = new BatchEmulator(o);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, payload: unknown, type?: string) => {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() };
        if (type) headers['x-amzn-errortype'] = type;
        res.writeHead(status, headers).end(JSON.stringify(payload));
      };
      try {
        const m = /^\/v1\/([a-z]+)$/.exec(req.url ?? '');
        if (!m || req.method !== 'POST')
          throw new BatchError(404, 'UnknownOperationException', `${req.method} ${req.url} is not a Batch operation`);
        let body: unknown;
        try {
          body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
        } catch {
          throw new BatchError(400, 'ClientException', 'request body is not JSON');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body))
          throw new BatchError(400, 'ClientException', 'request body must be a JSON object');
        send(200, emulator.handle(m[1], body as Record<string, unknown>));
      } catch (err) {
        if (err instanceof BatchError) send(err.status, { message: err.message }, err.type);
        else send(500, { message: (err as Error).message }, 'ServerException');
      }
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => ok());
  });
  const { address, port } = server.address() as AddressInfo;
  const endpoint = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const client = new BatchClient({ endpoint, region: emulator.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

  return {
    endpoint,
    emulator,
    client,
    env: { AWS_ENDPOINT_URL_BATCH: endpoint, AWS_REGION: emulator.region, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    jobs: emulator.jobs,
    requests: emulator.requests,
    update: (jobId, patch) => emulator.update(jobId, patch),
    logs: (jobId) => emulator.logs(jobId),
    async stop() {
      await emulator.shutdown();
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
