import type { ApiErrorShape } from './types';

/** The one error type the UI sees from the core: a stable code and a message for people. */
export class ApiError extends Error implements ApiErrorShape {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** Turn whatever an invoke rejected with into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const code = typeof o.code === 'string' ? o.code : 'internal';
    const message =
      typeof o.message === 'string' && o.message
        ? o.message
        : e instanceof Error
          ? e.message
          : 'Something went wrong.';
    return new ApiError(code, message);
  }
  if (typeof e === 'string' && e) return new ApiError('internal', e);
  return new ApiError('internal', 'Something went wrong.');
}
