// Runs on the page and in the dom0 worker: every error class that may cross between them
// (and reach the page from a guest), for installErrorTransfer(). Guest workers register
// only their own (guest/bootstrap.ts): shared/errors/error-transfer.ts says why.
import * as poolErrors from './pool-errors';
import * as archiveErrors from './archive-errors';
import * as deviceErrors from './device-errors';
import { RingGeometryError } from '../ring-layout';
import { IdcError } from '../idc-layout';

export const ALL_ERROR_CLASSES: Record<string, unknown> = { ...poolErrors, ...archiveErrors, ...deviceErrors, RingGeometryError, IdcError };
