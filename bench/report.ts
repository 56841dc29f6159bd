import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

// What the bench prints and what it writes to docs/benchmarks.md.

export interface Row {
  metric: string;
  unit: string;
  subject: number;
  reference: number;
  /** The second docker-registry, where the run has one. */
  control?: number;
  better: 'higher' | 'lower';
  /** Printed beside the values, e.g. the protocol each side used. */
  note?: string;
  digits: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  storage: string;
  tools: Record<string, string>;
}

export function describeMachine(workDir: string, tools: Record<string, string>): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const flags = /^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  let storage = 'unknown';
  try {
    storage = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', workDir], { encoding: 'utf8' }).trim();
  } catch {
    // findmnt is util-linux; keep 'unknown' where it is missing
  }
  return {
    cpu: `${model}${flags.includes('sha_ni') ? ' (SHA-NI)' : ''}`,
    cores: cpus().length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: release(),
    os: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? 'Linux',
    node: process.version,
    storage: `${storage} (${workDir.replace(/\/[^/]+$/, '')})`,
    tools,
  };
}

function value(n: number, digits: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cells(row: Row, withControl: boolean): string[] {
  return [
    row.metric,
    `${value(row.subject, row.digits)} ${row.unit}`,
    `${value(row.reference, row.digits)} ${row.unit}`,
    `${(row.subject / row.reference).toFixed(2)}×`,
    ...(withControl ? [row.control === undefined ? '' : `${(row.control / row.reference).toFixed(2)}×`] : []),
    row.better === 'higher' ? 'higher is better' : 'lower is better',
  ];
}

function headers(subject: string, reference: string, control: string | undefined): string[] {
  return [
    'measurement',
    subject,
    reference,
    `${subject} / ${reference}`,
    ...(control ? [`control: ${control} / ${reference}`] : []),
  ];
}

export function textTable(rows: Row[], subject: string, reference: string, control?: string): string {
  const header = [...headers(subject, reference, control), ''];
  const body = rows.map((row) => cells(row, control !== undefined));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)));
  return [header, ...body].map((r) => line(r).join('  ').trimEnd()).join('\n');
}

export interface ReportInput {
  date: Date;
  machine: Machine;
  subject: { label: string; version: string; kind: string };
  reference: { label: string; version: string };
  /** Label of the second docker-registry, where the run has one. */
  control: string | undefined;
  rows: Row[];
  notes: string[];
  howMeasured: string[];
  durationSeconds: number;
}

export function markdown(input: ReportInput): string {
  const { machine, subject, reference } = input;
  const out: string[] = [];
  out.push('# Benchmarks', '');
  out.push(
    'Written by `npm run bench` (bench/); to change the text, change bench/report.ts and bench/main.ts ' +
      'and run it again. Numbers are from one run on one machine: read the ratios, not the absolutes.',
    '',
  );
  if (subject.kind !== 'wharf') {
    out.push(
      `> **This run did not measure Wharf.** Wharf's server was not runnable when it was made, so both ` +
        `sides are docker-registry (${subject.label} and ${reference.label}): the run checks the harness ` +
        'itself, and how far the ratios stray from 1.00 shows the noise of the method.',
      '',
    );
  }
  out.push(
    `Run on ${input.date.toISOString().slice(0, 16).replace('T', ' ')} UTC, taking ${Math.round(input.durationSeconds)} s.`,
    '',
  );
  out.push('## Machine', '');
  out.push('| | |', '| --- | --- |');
  out.push(`| CPU | ${machine.cpu} |`);
  out.push(`| cores | ${machine.cores} (the load generators share them with the server) |`);
  out.push(`| memory | ${machine.memoryGiB.toFixed(1)} GiB |`);
  out.push(`| OS, kernel | ${machine.os}, Linux ${machine.kernel} |`);
  out.push(`| storage of the registries | ${machine.storage} |`);
  out.push(`| Node.js | ${machine.node} |`);
  out.push(`| ${subject.label} | ${subject.version} |`);
  if (subject.kind === 'wharf') out.push(`| ${reference.label} | ${reference.version} |`);
  else out.push(`| docker-registry | ${reference.version} |`);
  for (const [tool, version] of Object.entries(machine.tools)) out.push(`| ${tool} | ${version} |`);
  out.push('');
  out.push('## Results', '');
  const columns = [...headers(subject.label, reference.label, input.control), 'better'];
  out.push(
    `| ${columns.join(' | ')} |`,
    `| --- | ${columns
      .slice(1, -1)
      .map(() => '---:')
      .join(' | ')} | --- |`,
  );
  for (const row of input.rows) out.push(`| ${cells(row, input.control !== undefined).join(' | ')} |`);
  out.push('');
  if (input.control) {
    out.push(
      `The control column compares two identical docker-registry servers measured in the same run: ` +
        'how far it strays from 1.00× is how much of a ratio this run cannot tell from noise.',
      '',
    );
  }
  if (input.notes.length > 0) {
    out.push('Notes on this run:', '');
    for (const note of input.notes) out.push(`- ${note}`);
    out.push('');
  }
  out.push('## How measured', '');
  for (const paragraph of input.howMeasured) out.push(paragraph, '');
  return out.join('\n');
}
