import type { Database } from '../metadata/database.js';
import { listSystemSettings, saveSystemSetting } from '../metadata/system-settings-table.js';
import { type Principal, refusalFor } from './principal.js';
import { ServiceError } from './service-error.js';
import { isValidStorageLimit } from '../domain/quota.js';

// System settings that administrators change at run time (Harbor's /configurations). Kept in the
// database so every instance sees the same values.

export interface SystemSettings {
  project_creation_restriction: 'adminonly' | 'everyone';
  /** The storage limit a new project gets, in bytes; -1 is unlimited (Harbor's default). */
  storage_per_project: number;
}

/**
 * Settings Harbor keeps in /configurations that Wharf takes from its configuration file, because
 * every instance must apply the same at once: shown, never changed through the API.
 */
export interface FileSettings {
  /** audit.forward_endpoint */
  audit_log_forward_endpoint: string;
  /** audit.skip_database */
  skip_audit_log_database: boolean;
}

const FILE_SETTING_KEYS: Record<keyof FileSettings, string> = {
  audit_log_forward_endpoint: 'audit.forward_endpoint',
  skip_audit_log_database: 'audit.skip_database',
};

const DEFAULTS: SystemSettings = { project_creation_restriction: 'everyone', storage_per_project: -1 };

export class SettingsService {
  constructor(
    private readonly db: Database,
    readonly fromFile: Readonly<FileSettings>,
  ) {}

  async get(): Promise<SystemSettings> {
    const rows = await listSystemSettings(this.db);
    const values = Object.fromEntries(rows.map((r) => [r.name, r.value]));
    return {
      project_creation_restriction:
        values.project_creation_restriction === 'adminonly'
          ? 'adminonly'
          : DEFAULTS.project_creation_restriction,
      storage_per_project:
        typeof values.storage_per_project === 'number'
          ? values.storage_per_project
          : DEFAULTS.storage_per_project,
    };
  }

  async update(principal: Principal, changes: Record<string, unknown>): Promise<void> {
    if (!(principal.kind === 'user' && principal.sysadmin)) {
      throw new ServiceError(refusalFor(principal), 'only system administrators may change settings');
    }
    for (const [name, value] of Object.entries(changes)) {
      if (name === 'project_creation_restriction') {
        if (value !== 'adminonly' && value !== 'everyone') {
          throw new ServiceError('invalid', 'project_creation_restriction must be "adminonly" or "everyone"');
        }
      } else if (name === 'storage_per_project') {
        // Read by the database when it makes a project's quota (migration 020): a JSON number.
        if (typeof value !== 'number' || !isValidStorageLimit(value)) {
          throw new ServiceError(
            'invalid',
            'storage_per_project must be -1 (unlimited) or a positive number of bytes',
          );
        }
      } else if (Object.hasOwn(FILE_SETTING_KEYS, name)) {
        const key = FILE_SETTING_KEYS[name as keyof FileSettings];
        throw new ServiceError(
          'invalid',
          `${name} is set in the configuration file (${key}), the same on every instance; it cannot be changed here`,
        );
      } else if (name === 'self_registration') {
        if (value !== false) throw new ServiceError('invalid', 'self-registration is not supported');
        continue;
      } else {
        throw new ServiceError('invalid', `unknown or read-only setting "${name}"`);
      }
      await saveSystemSetting(this.db, name, value);
    }
  }
}
