// Runs in guest workers (guest/bootstrap.ts): the error classes a guest's runtime raises and
// sends back to the page, for installErrorTransfer(). Not the pool's or the archive's: no
// guest raises those, and registering them cost every guest worker about 36 KiB
// (shared/errors/error-transfer.ts).
import * as deviceErrors from './device-errors';
import { RingGeometryError } from '../ring-layout';
import { IdcError } from '../idc-layout';
import { SqliteFormatError } from '../sqlite-layout';

export const GUEST_ERROR_CLASSES: Record<string, unknown> = { ...deviceErrors, RingGeometryError, IdcError, SqliteFormatError };
