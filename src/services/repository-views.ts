// The rows the repositories API shows (a repository with its counts, a tag), as the catalogue
// reads them. http/ takes them from here: it never imports metadata/.
export type { RepositoryListRow, TagRow } from '../metadata/artifacts-query.js';
