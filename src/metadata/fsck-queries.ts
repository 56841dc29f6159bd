import type { Queryable } from './database.js';

// The consistency check's queries over manifests and their references (see fsck-service.ts).

export interface BrokenArtifact {
  repository: string;
  digest: string;
  tags: string[];
  /** The digests it needs whose bytes are unusable or unknown: its own, its config, layers, children. */
  missing: string[];
}

/**
 * Every manifest that cannot be pulled whole: its own bytes or a reference it needs (config,
 * layer, child manifest; not its subject, which may live elsewhere) are among `unusable` or have
 * no blob row at all. One pass over the references, which a check reading every blob can afford.
 */
export async function findBrokenArtifacts(
  db: Queryable,
  unusable: readonly string[],
): Promise<BrokenArtifact[]> {
  return db.query<BrokenArtifact>(
    `WITH missing AS (
       SELECT m.id, m.digest AS missing FROM manifests m WHERE m.digest = ANY($1::text[])
       UNION
       SELECT mr.manifest_id, mr.digest FROM manifest_references mr
       WHERE mr.kind <> 'subject'
         AND (mr.digest = ANY($1::text[]) OR NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mr.digest))
     )
     SELECT r.name AS repository, m.digest,
            COALESCE((SELECT array_agg(t.name ORDER BY t.name) FROM tags t WHERE t.manifest_id = m.id),
                     '{}'::text[]) AS tags,
            array_agg(x.missing ORDER BY x.missing) AS missing
     FROM missing x
     JOIN manifests m ON m.id = x.id
     JOIN repositories r ON r.id = m.repository_id
     GROUP BY r.name, m.id, m.digest
     ORDER BY r.name, m.digest`,
    [unusable],
  );
}

/** An upload session that has received bytes, with the hash state fsck checks its data against. */
export interface StartedUploadSession {
  id: string;
  hash_algorithm: string;
  hash_state: Uint8Array | null;
  hashed_digest: string | null;
}

export async function listStartedUploadSessions(db: Queryable): Promise<StartedUploadSession[]> {
  return db.query<StartedUploadSession>(
    'SELECT id, hash_algorithm, hash_state, hashed_digest FROM upload_sessions WHERE byte_offset > 0',
  );
}
