// Wharf's own headers for two-way replication between Wharf registries (see
// http/oci/origin-headers.ts, which reads them, and replication/execution/copy-task.ts, which
// sends them): the tag write of a copy states the tag's push time at its origin.

export const ORIGIN_PUSH_TIME_HEADER = 'wharf-origin-push-time';
export const ORIGIN_HEADER = 'wharf-origin';
/** On a tag deletion: when the tag was deleted at the origin. */
export const ORIGIN_DELETED_AT_HEADER = 'wharf-origin-deleted-at';
/** In the answer: `true` (the origin time recorded with the write) or `superseded` (left alone). */
export const ORIGIN_RECORDED_HEADER = 'wharf-origin-recorded';
