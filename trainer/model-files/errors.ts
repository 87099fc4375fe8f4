/** A model file (config, weights, adapter directory) that cannot be used; the message names the file and the field or tensor. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}
