import { ServiceError, type ErrorDetail } from '../../errors.js';

/** At most this many details in one answer, so a huge bad body gets a bounded one. */
export const MAX_DETAILS = 20;

/** 400 INVALID_INPUT naming the first problem; every problem (up to MAX_DETAILS) in details. */
export function invalidInput(details: ErrorDetail[]): ServiceError {
  const shown = details.slice(0, MAX_DETAILS);
  const first = shown[0]!;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ServiceError('INVALID_INPUT', `invalid input at ${first.path}: ${first.message}${more}`, shown);
}

export function invalidAt(path: string, message: string): ServiceError {
  return invalidInput([{ path, message }]);
}

/** How a value is named in a message: short, never the whole value. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number') return `${value}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
