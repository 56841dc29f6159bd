// Creates an embedded database directory and exits. Run as a short-lived child process by
// openPgliteDatabase on the first start: PGlite's initdb briefly needs several hundred MB, which
// a child returns to the operating system when it exits instead of leaving the server's heap grown.
import { PGlite } from '@electric-sql/pglite';

// The files initdb writes are the owner's only, whoever started this process (see private-files.ts).
process.umask(0o077);

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: pglite-init DATA_DIR');
  process.exit(2);
}
const db = await PGlite.create({ dataDir });
await db.query('SELECT 1');
await db.close();
