import type { ErrorCode } from '@portrait-edit/shared';

/** An error whose code and message go back to the client as they are. */
export class ClientError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}
