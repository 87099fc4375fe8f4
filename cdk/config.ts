/**
 * Deployment settings, read from CDK context (`cdk.json` or `-c key=value`). Context values given on
 * the command line are strings, so every reader accepts both the JSON type and its string spelling.
 */
import type { Node } from 'constructs';

export interface AdapterStoreConfig {
  /** Buckets the API accepts dataset URIs from and the trainer may read, besides the registry bucket. */
  datasetBuckets: string[];
  /** Base model a fine-tune uses when the request names none (a folder under models/ in the registry). */
  defaultBaseModel: string;
  /** Spot first with an on-demand fallback (true), or on-demand only (`-c spot=false`). */
  spot: boolean;
  /** Upper bound of each compute environment, in vCPUs (a g5/g6.xlarge has 4). */
  maxVcpus: number;
  /** Change this value (e.g. `-c cdnKeyRotation=2`) to make the next deploy generate a new CloudFront key pair. */
  cdnKeyRotation: string;
  /**
   * Minutes a job may wait in RUNNABLE at the head of a queue for a reason Batch can act on (no EC2
   * capacity, no instance type or vCPU limit that fits) before Batch cancels it: 10 to 1440 (Batch's
   * own bounds for jobStateTimeLimitActions).
   */
  maxRunnableMinutes: number;
}

export const DEFAULT_CONFIG: AdapterStoreConfig = {
  datasetBuckets: [],
  defaultBaseModel: 'bert-base-uncased',
  spot: true,
  maxVcpus: 32,
  cdnKeyRotation: '1',
  // Spot capacity for g5/g6 comes and goes within hours; past 4 h the job owner is better told.
  maxRunnableMinutes: 240,
};

function list(value: unknown): string[] {
  if (Array.isArray(value))
    return value
      .map(String)
      .map((s) => s.trim())
      .filter(Boolean);
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  throw new Error(`context "datasetBuckets" must be a list or a comma-separated string, got ${JSON.stringify(value)}`);
}

function bool(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`context "${name}" must be true or false, got ${JSON.stringify(value)}`);
}

function positiveInt(name: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0)
    throw new Error(`context "${name}" must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The settings from a construct node's context, defaults for what is not set. */
export function configFromContext(node: Node): AdapterStoreConfig {
  const get = (key: string): unknown => node.tryGetContext(key);
  const c: AdapterStoreConfig = {
    datasetBuckets: get('datasetBuckets') === undefined ? DEFAULT_CONFIG.datasetBuckets : list(get('datasetBuckets')),
    defaultBaseModel: String(get('defaultBaseModel') ?? DEFAULT_CONFIG.defaultBaseModel),
    spot: get('spot') === undefined ? DEFAULT_CONFIG.spot : bool('spot', get('spot')),
    maxVcpus: get('maxVcpus') === undefined ? DEFAULT_CONFIG.maxVcpus : positiveInt('maxVcpus', get('maxVcpus')),
    cdnKeyRotation: String(get('cdnKeyRotation') ?? DEFAULT_CONFIG.cdnKeyRotation),
    maxRunnableMinutes:
      get('maxRunnableMinutes') === undefined
        ? DEFAULT_CONFIG.maxRunnableMinutes
        : positiveInt('maxRunnableMinutes', get('maxRunnableMinutes')),
  };
  if (c.maxRunnableMinutes < 10 || c.maxRunnableMinutes > 1440)
    throw new Error(`context "maxRunnableMinutes" must be from 10 to 1440 (Batch's bounds), got ${c.maxRunnableMinutes}`);
  for (const b of c.datasetBuckets)
    if (!BUCKET.test(b)) throw new Error(`context "datasetBuckets": "${b}" is not a bucket name (give names, not s3:// URIs)`);
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(c.defaultBaseModel))
    throw new Error(`context "defaultBaseModel": "${c.defaultBaseModel}" is not a model folder name`);
  if (!/^[A-Za-z0-9-]{1,32}$/.test(c.cdnKeyRotation)) throw new Error(`context "cdnKeyRotation" must be 1-32 letters, digits or hyphens`);
  return c;
}
