import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import {
  NotHarborDatabaseError,
  runHarborImport,
  type ImportChange,
  type ImportKind,
  type ImportOutcome,
  type ImportReport,
} from '../services/import/harbor-import.js';
import { openBackends } from '../wharf.js';

// `wharf import harbor --database-url postgres://… [--dry-run]`: copies users, projects, members
// and robot accounts from a Harbor registry database into Wharf's (the one its configuration
// names). Harbor's database is only read, in one read-only snapshot; Wharf's is written in one
// transaction, so a failed import leaves it as it was.

export const IMPORT_USAGE = `Usage:
  wharf import harbor --database-url postgres://USER@HOST/registry [--config FILE] [--data-dir DIR] [--dry-run]

Reads Harbor's database (1.x or 2.x) and creates or updates Wharf's users, projects, members and
robot accounts. Running it again changes nothing. --dry-run prints what would change and writes
nothing (Wharf's schema is brought up to date first, as every command does).`;

const KINDS: readonly ImportKind[] = ['users', 'projects', 'members', 'robots'];
const OUTCOMES: readonly ImportOutcome[] = ['created', 'updated', 'unchanged', 'skipped'];
const DRY_RUN_VERBS: Record<ImportOutcome, string> = {
  created: 'would create',
  updated: 'would update',
  unchanged: 'unchanged',
  skipped: 'would skip',
};

function changeLine(change: ImportChange, dryRun: boolean): string {
  const verb = dryRun ? DRY_RUN_VERBS[change.outcome] : change.outcome;
  const kind = change.kind.replace(/s$/, '');
  return `${verb.padEnd(13)} ${kind.padEnd(8)} ${change.subject}${change.detail ? `  (${change.detail})` : ''}`;
}

function summary(report: ImportReport): string {
  const header = ['', ...OUTCOMES].map((h, i) => (i === 0 ? h.padEnd(10) : h.padStart(10))).join('');
  const rows = KINDS.map(
    (kind) => kind.padEnd(10) + OUTCOMES.map((o) => String(report.counts[kind][o]).padStart(10)).join(''),
  );
  return [header, ...rows].join('\n');
}

export async function runImport(args: string[]): Promise<number> {
  const [from, ...rest] = args;
  if (from === undefined || from === '--help' || from === '-h') {
    console.log(IMPORT_USAGE);
    return from === undefined ? 2 : 0;
  }
  if (from !== 'harbor') {
    console.error(`wharf import: unknown source "${from}" (only "harbor" is supported)\n${IMPORT_USAGE}`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      'database-url': { type: 'string' },
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const sourceUrl = values['database-url'];
  if (sourceUrl === undefined || !/^postgres(ql)?:\/\//.test(sourceUrl)) {
    throw new ConfigError("--database-url: Harbor's database as a postgres:// URL is required");
  }
  const dryRun = values['dry-run'] ?? false;
  const config = loadConfig({
    ...(values.config !== undefined && { file: values.config }),
    overrides: { ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }) },
  });

  const backends = await openBackends(config);
  try {
    console.log(`wharf import harbor${dryRun ? ' (dry run: nothing is written)' : ''}`);
    const options = { dryRun, onChange: (c: ImportChange) => console.log(changeLine(c, dryRun)) };
    let report: ImportReport;
    try {
      report = await runHarborImport(sourceUrl, backends.db, options);
    } catch (err) {
      if (!(err instanceof NotHarborDatabaseError)) throw err;
      console.error(`wharf import: ${err.message}`);
      return 1;
    }
    if (report.harborSchemaVersion !== null) {
      console.log(`\nHarbor schema version ${report.harborSchemaVersion}`);
    }
    console.log(`\n${summary(report)}`);
    if (report.warnings.length > 0) {
      console.log(`\nTo do by hand:\n${report.warnings.map((w) => `  - ${w}`).join('\n')}`);
    }
    return 0;
  } finally {
    await backends.close();
  }
}
