// Runs on the page and in the dom0 worker: every error class that may cross between them
// (and reach the page from a guest), for installErrorTransfer(). Guest workers register
// only their own (guest/bootstrap.ts): shared/errors/error-transfer.ts says why.
import * as poolErrors from './pool-errors';
import * as archiveErrors from './archive-errors';
import { GUEST_ERROR_CLASSES } from './guest-error-classes';

export const ALL_ERROR_CLASSES: Record<string, unknown> = { ...poolErrors, ...archiveErrors, ...GUEST_ERROR_CLASSES };
