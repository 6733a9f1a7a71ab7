// Test helper: byte arrays laid end to end (a multi-block write from its blocks).
import { concatBytes } from '../../host/archive/bytes';

export const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);
