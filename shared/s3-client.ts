/** The AWS SDK's S3 client, configured from the standard AWS environment. */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { boolean } from './env.ts';

/**
 * An S3 client from the standard AWS environment. Path-style addressing when an endpoint is configured
 * (S3-compatible servers on loopback), and checksums only where required, because some of those
 * servers store the chunk framing of streamed checksummed uploads as data.
 */
export function s3ClientFromEnv(overrides: S3ClientConfig = {}): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: boolean(process.env, 'AWS_S3_FORCE_PATH_STYLE', false) || Boolean(endpoint),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  });
}
