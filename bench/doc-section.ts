import { readFile, writeFile } from 'node:fs/promises';

// A section of docs/benchmarks.md that one bench owns: the text between its start and end markers
// (the markers included) is replaced; a doc without them gets the section appended at its end,
// below the part `npm run bench` rewrites, so that both survive each other's runs.

export interface SectionMarkers {
  start: string;
  end: string;
}

/** The doc with `section` (which begins with markers.start and ends with markers.end) in place. */
export function withSection(doc: string, markers: SectionMarkers, section: string): string {
  const start = doc.indexOf(markers.start);
  const end = start < 0 ? -1 : doc.indexOf(markers.end, start);
  if (start >= 0 && end > start) {
    return doc.slice(0, start) + section + doc.slice(end + markers.end.length);
  }
  return `${doc.trimEnd()}\n\n${section}\n`;
}

/** Reads the doc at `path`, puts the section in, writes it back. */
export async function writeSection(path: string, markers: SectionMarkers, section: string): Promise<void> {
  if (!section.startsWith(markers.start) || !section.endsWith(markers.end)) {
    throw new Error('a doc section must begin and end with its markers');
  }
  const doc = await readFile(path, 'utf8').catch(() => '');
  await writeFile(path, withSection(doc, markers, section));
}
