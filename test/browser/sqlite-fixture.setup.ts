// Runs in Node before the browser tests: builds the sample database with the reference
// sqlite3 and records its answers to the shared queries, for test/browser/sqlite-*.test.ts
// to compare against. Without sqlite3 the SQLite tests fail with the install hint (in CI
// the sqlite3 package is installed by .ci/run).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSampleDatabase, referenceQuery } from '../../scripts/sqlite-sample.mjs';
import { SHOP_QUERIES } from '../fixtures/sqlite-queries';

export const GENERATED = join(import.meta.dirname, '..', 'fixtures', 'generated');

export default function setup(): void {
  const db = join(GENERATED, 'shop.db');
  const ref = join(GENERATED, 'shop-reference.json');
  try {
    if (!existsSync(db)) buildSampleDatabase(db, 1);
    const answers = Object.fromEntries(SHOP_QUERIES.map((q) => [q.name, referenceQuery(db, q.sql, q.params)]));
    writeFileSync(ref, JSON.stringify(answers));
  } catch (err) {
    mkdirSync(GENERATED, { recursive: true });
    writeFileSync(ref, JSON.stringify({ error: String(err) }));
    if (process.env.CI) throw err;
  }
}
