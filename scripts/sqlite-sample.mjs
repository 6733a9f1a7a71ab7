// Runs in Node. Builds the sample "shop" database with the reference sqlite3 command line
// (deterministic: the same scale gives the same rows), and answers queries with it.
// Used by the SQLite browser tests' setup (the reference answers), the console's sample
// database and the SQLite benchmark.
//
//   node scripts/sqlite-sample.mjs out.db [scale]      # scale 1 ≈ 6 MiB; 6 ≈ 36 MiB
//
// Needs `sqlite3` on PATH (Debian: apt-get install sqlite3) or TABVISOR_SQLITE3.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

export function sqlite3Path() {
  const p = process.env.TABVISOR_SQLITE3 ?? 'sqlite3';
  try {
    execFileSync(p, ['-version'], { stdio: 'pipe' });
  } catch {
    throw new Error(`the reference sqlite3 is missing: install it (Debian: apt-get install sqlite3) or set TABVISOR_SQLITE3`);
  }
  return p;
}

const FIRST = 'Ada Alan Anna Ben Carla David Elena Emil Eva Farah Felix Grace Hana Ivan Jonas Julia Karim Lara Leo Lina Marco Maria Mia Nadia Noah Olga Omar Paula Pedro Rosa Sami Sara Theo Tom Uma Vera Wei Yara Yusuf Zoe'.split(' ');
const LAST = 'Abbott Bauer Costa Dubois Evans Fischer Garcia Hansen Ito Jensen Kowalski Lopez Meyer Novak Okafor Petrov Quinn Rossi Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zimmermann'.split(' ');
const COUNTRIES = 'DE FR IT ES NL PL SE NO DK FI PT GR IE AT BE CZ HU RO GB US CA JP BR IN'.split(' ');
const ADJ = 'Steel Oak Linen Copper Bamboo Wool Glass Cedar Cotton Slate Brass Walnut Ceramic Leather Granite'.split(' ');
const NOUN = 'Chair Lamp Table Mug Shelf Rug Vase Desk Bowl Stool Clock Mirror Kettle Basket Bench Blanket'.split(' ');
const CATEGORY = 'furniture lighting kitchen decor textiles storage garden office'.split(' ');
const STATUS = 'paid shipped delivered returned cancelled'.split(' ');

/** @param {string[]} list */
function values(list) {
  return list.map((w, i) => `(${i},'${w}')`).join(',');
}

/** The SQL that builds the database at `scale` (deterministic: a hash, not random()). */
export function sampleSql(scale = 1) {
  const customers = 8000 * scale;
  const products = 1500;
  const orders = 40000 * scale;
  /** @param {string} x @param {number} salt */
  // Two multiplicative hashing rounds kept below 2^62: past 2^63 SQLite turns an integer
  // product into a REAL, and the rounding clusters the values.
  const h = (x, salt) => `((((${x}) * 1103515245 + ${salt} * 12345) % 2147483648) * 1664525 % 2147483647)`;
  return `
PRAGMA page_size=4096;
PRAGMA journal_mode=DELETE;
BEGIN;
CREATE TEMP TABLE first(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO first VALUES ${values(FIRST)};
CREATE TEMP TABLE last(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO last VALUES ${values(LAST)};
CREATE TEMP TABLE country(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO country VALUES ${values(COUNTRIES)};
CREATE TEMP TABLE adj(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO adj VALUES ${values(ADJ)};
CREATE TEMP TABLE noun(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO noun VALUES ${values(NOUN)};
CREATE TEMP TABLE category(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO category VALUES ${values(CATEGORY)};
CREATE TEMP TABLE status(i INTEGER PRIMARY KEY, w TEXT); INSERT INTO status VALUES ${values(STATUS)};

CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, country TEXT NOT NULL, created TEXT NOT NULL, notes TEXT);
CREATE TABLE products(id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL, description TEXT);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), created TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE order_items(order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES products(id), qty INTEGER NOT NULL, price REAL NOT NULL, PRIMARY KEY(order_id, product_id)) WITHOUT ROWID;

WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${customers})
INSERT INTO customers
SELECT x,
  (SELECT w FROM first WHERE i = ${h('x', 1)} % ${FIRST.length}) || ' ' || (SELECT w FROM last WHERE i = ${h('x', 2)} % ${LAST.length}),
  lower((SELECT w FROM first WHERE i = ${h('x', 1)} % ${FIRST.length})) || '.' || x || '@example.' || lower((SELECT w FROM country WHERE i = ${h('x', 3)} % ${COUNTRIES.length})),
  (SELECT w FROM country WHERE i = ${h('x', 3)} % ${COUNTRIES.length}),
  date('2019-01-01', '+' || (${h('x', 4)} % 2190) || ' days'),
  CASE WHEN ${h('x', 5)} % 4 = 0 THEN 'prefers ' || (SELECT w FROM category WHERE i = ${h('x', 6)} % ${CATEGORY.length}) || ' deliveries before noon; ' || hex(zeroblob(${h('x', 7)} % 40)) ELSE NULL END
FROM n;

WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${products})
INSERT INTO products
SELECT x,
  (SELECT w FROM adj WHERE i = ${h('x', 11)} % ${ADJ.length}) || ' ' || (SELECT w FROM noun WHERE i = ${h('x', 12)} % ${NOUN.length}) || ' ' || (x % 97),
  (SELECT w FROM category WHERE i = ${h('x', 13)} % ${CATEGORY.length}),
  round(2 + (${h('x', 14)} % 50000) / 100.0, 2),
  'A ' || lower((SELECT w FROM adj WHERE i = ${h('x', 11)} % ${ADJ.length})) || ' piece for the ' || (SELECT w FROM category WHERE i = ${h('x', 13)} % ${CATEGORY.length}) || ' range, made in ' || (SELECT w FROM country WHERE i = ${h('x', 15)} % ${COUNTRIES.length}) || '.'
FROM n;

WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${orders})
INSERT INTO orders
SELECT x, 1 + ${h('x', 21)} % ${customers}, datetime('2020-01-01', '+' || (${h('x', 22)} % (1826 * 24)) || ' hours'),
  (SELECT w FROM status WHERE i = ${h('x', 23)} % ${STATUS.length})
FROM n;

WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 5)
INSERT OR IGNORE INTO order_items
SELECT o.id, 1 + ${h('o.id * 7 + k.j', 31)} % ${products}, 1 + ${h('o.id * 7 + k.j', 32)} % 4, p.price
FROM orders o JOIN k ON k.j < 1 + ${h('o.id', 33)} % 6
JOIN products p ON p.id = 1 + ${h('o.id * 7 + k.j', 31)} % ${products};

CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_created ON orders(created);
CREATE INDEX customers_country ON customers(country, created);
CREATE INDEX products_category ON products(category);
COMMIT;
ANALYZE;
VACUUM;
`;
}

/** Build the sample database at `path` (replacing it). @param {string} path */
export function buildSampleDatabase(path, scale = 1) {
  const bin = sqlite3Path();
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  execFileSync(bin, [tmp], { input: sampleSql(scale), stdio: ['pipe', 'pipe', 'inherit'] });
  renameSync(tmp, path);
  return path;
}

/**
 * Rows of `sql` by the reference sqlite3, as arrays in column order. `params`: named
 * parameters (`:name` → value), bound with the CLI's `.parameter set`.
 * @param {string} dbPath @param {string} sql @param {Readonly<Record<string, string | number>>} [params]
 * @returns {unknown[][]}
 */
export function referenceQuery(dbPath, sql, params = {}) {
  const bin = sqlite3Path();
  const lines = ['.mode json'];
  for (const [k, v] of Object.entries(params)) {
    lines.push(`.parameter set ${k} ${typeof v === 'string' ? `"'${v.replaceAll("'", "''")}'"` : String(v)}`);
  }
  lines.push(`${sql.trim().replace(/;$/, '')};`);
  const out = execFileSync(bin, ['-readonly', dbPath], { input: lines.join('\n'), encoding: 'utf8' }).trim();
  const objects = out ? JSON.parse(out) : [];
  return objects.map((/** @type {Record<string, unknown>} */ o) => Object.values(o));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [out, scale] = process.argv.slice(2);
  if (!out) {
    console.error('usage: node scripts/sqlite-sample.mjs out.db [scale]');
    process.exit(2);
  }
  const path = buildSampleDatabase(out, Number(scale ?? 1));
  console.log(`${path}: ${existsSync(path) ? 'built' : 'missing'}`);
}
