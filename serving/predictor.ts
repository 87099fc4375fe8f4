/**
 * The public face of the inference runtime: what a caller asks and gets back, and the one error type
 * (its code maps to an HTTP status in functions/routes/predict.ts). Shared by the Node and browser
 * engines and by the API; nothing here imports Node or onnxruntime.
 */

/** A text, or a pair of texts (BERT's `[CLS] text [SEP] text_pair [SEP]`). */
export type PredictInput = string | { text: string; text_pair?: string };

export interface PredictRequest {
  task: string;
  /** A version id; absent: the task's newest version. */
  version?: string;
  inputs: PredictInput[];
  /** The caller went away (e.g. the HTTP request's signal): rows not yet computed are dropped. */
  signal?: AbortSignal;
}

export interface Prediction {
  /** The most probable label. */
  label: string;
  /** Softmax over the adapter's labels, by label name. */
  probs: Record<string, number>;
}

export interface PredictResponse {
  task: string;
  version: string;
  predictions: Prediction[];
}

export interface Predictor {
  predict(req: PredictRequest): Promise<PredictResponse>;
  /** Stops the engines (worker threads, sessions); pending predictions fail. */
  close(): Promise<void>;
}

/**
 * not-found: no such task or version. base-missing: the adapter's base model is not in the store.
 * base-mismatch: the adapter was trained on other base weights than the store's base of that name.
 * unsupported: an adapter this runtime cannot serve over a shared base (`full` mode).
 * invalid: a bad input (`field` names it, e.g. `inputs[3].text`).
 * corrupt: a stored file does not match its manifest's sha256 (added to the shared contract: a server-side fault, never served).
 * busy: this process already holds its cap of queued rows; `retryAfterSeconds` says when to retry.
 * cancelled: the request's signal aborted before its rows were computed.
 */
export type PredictErrorCode =
  | 'not-found'
  | 'base-missing'
  | 'base-mismatch'
  | 'unsupported'
  | 'invalid'
  | 'corrupt'
  | 'busy'
  | 'cancelled';

export class PredictError extends Error {
  override name = 'PredictError';
  constructor(
    message: string,
    readonly code: PredictErrorCode,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}
