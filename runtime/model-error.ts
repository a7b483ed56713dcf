/** A user-facing problem running a model (prompt too long, weights that do not fit, a draft that does not match). */
export class ModelError extends Error {
  override readonly name = 'ModelError';
}
