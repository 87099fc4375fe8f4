/**
 * A minimal AWS Batch server on loopback for tests: just enough of Batch's REST-JSON wire protocol
 * (`POST /v1/submitjob`, `/v1/describejobs`, `/v1/terminatejob`; errors as an `x-amzn-errortype`
 * header plus `{message}`) for the real `@aws-sdk/client-batch`. It runs nothing: jobs sit in memory
 * and tests move them between states with `update`. Signatures are not checked.
 *
 *   const batch = await startBatchWireServer();
 *   const client = batch.client;          // or new BatchClient({ endpoint: batch.endpoint, ... })
 *   batch.update(id, { status: 'RUNNING' });
 *   await batch.stop();
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchClient } from '@aws-sdk/client-batch';

/** A job as the server keeps it and DescribeJobs returns it (the subset of JobDetail tests use). */
export interface WireJob {
  jobId: string;
  jobArn: string;
  jobName: string;
  jobQueue: string;
  jobDefinition: string;
  status: 'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  statusReason?: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  container?: { command?: string[]; environment?: { name: string; value: string }[]; exitCode?: number; reason?: string };
  attempts?: { container?: { exitCode?: number; reason?: string }; statusReason?: string }[];
}

export interface BatchWireServer {
  endpoint: string;
  client: BatchClient;
  env: Record<string, string>;
  jobs: Map<string, WireJob>;
  /** Every request's operation and parsed body, in order. */
  requests: { op: string; body: Record<string, unknown> }[];
  update(jobId: string, patch: Partial<WireJob>): void;
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
const DONE = new Set(['SUCCEEDED', 'FAILED']);

class WireError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

function str(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw new WireError(400, 'ClientException', `${field} is required`);
  return v;
}

export async function startBatchWireServer(): Promise<BatchWireServer> {
  const jobs = new Map<string, WireJob>();
  const requests: BatchWireServer['requests'] = [];

  const ops: Record<string, (body: Record<string, unknown>) => unknown> = {
    submitjob(body) {
      const jobName = str(body, 'jobName');
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(jobName)) throw new WireError(400, 'ClientException', `jobName "${jobName}" is invalid`);
      const overrides = (body.containerOverrides ?? {}) as WireJob['container'] & object;
      const jobId = randomUUID();
      const job: WireJob = {
        jobId, jobArn: `arn:aws:batch:${REGION}:000000000000:job/${jobId}`, jobName,
        jobQueue: str(body, 'jobQueue'), jobDefinition: str(body, 'jobDefinition'),
        status: 'SUBMITTED', createdAt: Date.now(),
        container: { command: overrides.command, environment: overrides.environment },
      };
      jobs.set(jobId, job);
      return { jobArn: job.jobArn, jobName, jobId };
    },
    describejobs(body) {
      const ids = body.jobs;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100) throw new WireError(400, 'ClientException', 'jobs must list 1 to 100 job ids');
      return { jobs: ids.flatMap((id) => (typeof id === 'string' && jobs.has(id) ? [jobs.get(id)] : [])) };
    },
    terminatejob(body) {
      const job = jobs.get(str(body, 'jobId'));
      const reason = str(body, 'reason');
      if (!job) throw new WireError(400, 'ClientException', `Job ${String(body.jobId)} not found`);
      if (!DONE.has(job.status)) Object.assign(job, { status: 'FAILED', statusReason: reason, stoppedAt: Date.now() });
      return {};
    },
  };

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
        const op = m && req.method === 'POST' ? ops[m[1]] : undefined;
        if (!m || !op) throw new WireError(404, 'UnknownOperationException', `${req.method} ${req.url} is not an operation this server knows`);
        let body: Record<string, unknown>;
        try {
          body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
        } catch {
          throw new WireError(400, 'ClientException', 'request body is not JSON');
        }
        requests.push({ op: m[1], body });
        send(200, op(body));
      } catch (err) {
        if (err instanceof WireError) send(err.status, { message: err.message }, err.type);
        else send(500, { message: (err as Error).message }, 'ServerException');
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new BatchClient({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

  return {
    endpoint,
    client,
    env: { AWS_ENDPOINT_URL_BATCH: endpoint, AWS_REGION: REGION, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    jobs,
    requests,
    update(jobId, patch) {
      const job = jobs.get(jobId);
      if (!job) throw new Error(`no job ${jobId}`);
      Object.assign(job, patch);
    },
    async stop() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
