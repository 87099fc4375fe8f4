/**
 * One loopback endpoint in front of several emulators, as LocalStack's edge port (4566) is: clients
 * get a single AWS_ENDPOINT_URL and each request is passed, unchanged and streamed, to the emulator of
 * its service. Batch's REST-JSON operations are `POST /v1/<operation>`; everything else is S3.
 * (A bucket named "v1" would be mistaken for Batch; the suite does not use one.)
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EdgeRoutes {
  s3: string;
  batch: string;
}

export interface Edge {
  endpoint: string;
  stop(): Promise<void>;
}

const BATCH_PATH = /^\/v1\/[a-z]+$/;

export async function startEdge(routes: EdgeRoutes, o: { host?: string; port?: number } = {}): Promise<Edge> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = new URL(req.method === 'POST' && BATCH_PATH.test(req.url ?? '') ? routes.batch : routes.s3);
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`edge: ${err.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${o.host ?? '127.0.0.1'}:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
