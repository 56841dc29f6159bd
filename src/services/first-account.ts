import type { Database } from '../metadata/database.js';
import { claimInitialisation, hasUsers, isInitialised } from '../metadata/initialisation-table.js';
import { insertProject } from '../metadata/projects-table.js';
import { findUserByName, insertUserIfAbsent } from '../metadata/users-table.js';
import { hashPassword } from './passwords.js';
import { checkPasswordPolicy, generateAccountPassword } from './user-service.js';

// The first account ("admin", a system administrator) and, as in Harbor, the public project
// `library` it owns are created once, when the database is initialised, in the same transaction
// as the marker that says so. An administrator deleted later stays deleted; a lost password is
// recovered with `wharf admin reset-password`, not by a restart.

export const FIRST_ACCOUNT = 'admin';

export interface FirstAccount {
  username: string;
  /** Set when no password was configured: the caller shows it once, it is stored only hashed. */
  generatedPassword: string | null;
}

export type InitialisationOutcome =
  | { kind: 'created'; account: FirstAccount }
  /** Initialised before (this start, or another instance meanwhile): nothing was created. */
  | { kind: 'initialised-before' }
  /** Accounts exist that predate the marker (an older Wharf, an import): recorded, nothing created. */
  | { kind: 'adopted' };

/**
 * Initialises the database if nobody has yet. A configured password must meet the password
 * policy (ServiceError 'invalid' otherwise, before anything is written).
 */
export async function initialiseDatabase(
  db: Database,
  configuredPassword: string | undefined,
): Promise<InitialisationOutcome> {
  if (await isInitialised(db)) return { kind: 'initialised-before' };
  if (configuredPassword !== undefined) checkPasswordPolicy(configuredPassword);
  const password = configuredPassword ?? generateAccountPassword();
  // Hashed before the transaction: the KDF's time is not spent holding the marker's row lock.
  const passwordHash = await hashPassword(password);
  return db.transaction(async (tx): Promise<InitialisationOutcome> => {
    if (!(await claimInitialisation(tx))) return { kind: 'initialised-before' };
    if (await hasUsers(tx)) return { kind: 'adopted' };
    await insertUserIfAbsent(tx, FIRST_ACCOUNT, passwordHash, true);
    const admin = await findUserByName(tx, FIRST_ACCOUNT);
    await insertProject(tx, 'library', admin?.id ?? null, { public: 'true' });
    return {
      kind: 'created',
      account: {
        username: FIRST_ACCOUNT,
        generatedPassword: configuredPassword === undefined ? password : null,
      },
    };
  });
}
