/**
 * The S3-compatible test server (fauxqs + conditional writes, test/support/s3-server.ts) as a process:
 *
 *   npx tsx test/emulators/s3/main.ts        # prints "S3 server listening on http://127.0.0.1:<port>"
 *
 * On a free loopback port (the helper picks it). Objects live in memory until Ctrl-C.
 */
import { startS3Server } from '../../support/s3-server.ts';

const s3 = await startS3Server();
process.stdout.write(`S3 server listening on ${s3.endpoint}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void s3.stop().then(() => process.exit(0));
  });
}
