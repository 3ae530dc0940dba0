import { expect } from 'vitest';
import { ServiceError } from '../../src/errors.js';

/** The ServiceError fn throws; fails the test when it throws nothing or something else. */
export function thrownServiceError(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    return err as ServiceError;
  }
  throw new Error('expected a ServiceError');
}
