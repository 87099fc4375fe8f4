/**
 * The Batch emulator as a process:
 *
 *   npx tsx test/emulators/batch/main.ts --port 4567 [--queue q]... [--image name=argv0,argv1,...]...
 *       [--default-entrypoint argv0,argv1,...] [--concurrency 1] [--stop-timeout-ms 30000]
 *
 * Containers get this process's environment (so set AWS_ENDPOINT_URL_S3 & co. for them here), run in
 * the current directory, and print their output prefixed with the job id. Ctrl-C stops them all.
 */
import { parseArgs } from 'node:util';
import { startBatchEmulator } from './server.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '4567' },
    queue: { type: 'string', multiple: true, default: [] },
    image: { type: 'string', multiple: true, default: [] },
    'default-entrypoint': { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    'stop-timeout-ms': { type: 'string', default: '30000' },
    quiet: { type: 'boolean', default: false },
  },
});

const images: Record<string, string[]> = {};
for (const spec of values.image) {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new Error(`--image ${spec}: expected name=argv0,argv1,...`);
  images[spec.slice(0, eq)] = spec.slice(eq + 1).split(',');
}

const batch = await startBatchEmulator({
  host: values.host,
  port: Number(values.port),
  jobQueues: values.queue,
  images,
  defaultEntrypoint: values['default-entrypoint']?.split(','),
  concurrency: Number(values.concurrency),
  stopTimeoutMs: Number(values['stop-timeout-ms']),
  onLog: values.quiet ? undefined : (jobId, line) => process.stderr.write(`[${jobId.slice(0, 8)}] ${line}\n`),
});
process.stdout.write(`Batch emulator listening on ${batch.endpoint}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void batch.stop().then(() => process.exit(0));
  });
}
