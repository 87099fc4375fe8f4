/** A checkpoint, config or tensor file that cannot be used; the message names the file and the field or tensor. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
