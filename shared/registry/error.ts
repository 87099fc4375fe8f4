/** The one error type of the registry (pure: the browser-safe layout throws it too). */
export class RegistryError extends Error {
  constructor(
    message: string,
    /** corrupt: an object the registry wrote is not what it wrote (a bad manifest); skip it, never serve it. */
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'storage' | 'corrupt',
  ) {
    super(message);
  }
}
