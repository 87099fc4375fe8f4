import type { BelowMajority } from './majority-baseline.ts';
import type { TrainMode } from './vocabulary.ts';

/**
 * `adapters/<task>/<version>/manifest.json`: written last, it makes a version visible. It lists every
 * file of the version with its size and sha256, so a reader can verify what it downloads.
 */
export interface ManifestFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface AdapterManifest {
  format: 'adapter-store.manifest/v1';
  task: string;
  version: string;
  createdAt: string;
  jobId: string | null;
  baseModel: { name: string; weightsSha256: string };
  mode: TrainMode;
  labels: string[];
  files: ManifestFile[];
  parameters: { trainable: number; total: number };
  /** Headline validation metrics of the selected checkpoint (null without validation data). */
  metrics: { loss: number; accuracy: number; macroF1: number; mcc: number } | null;
  /** Present when the selected validation score is not above the majority-class predictor's (shared/majority-baseline.ts). */
  belowMajority?: BelowMajority;
}
