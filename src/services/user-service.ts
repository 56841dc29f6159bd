import type { Database } from '../metadata/database.js';
import {
  deleteUser,
  findUserByName,
  findUserRecord,
  insertUser,
  listUsers,
  passwordHashOf,
  setUserPasswordHash,
  setUserSysadmin,
  updateUserProfile,
  type UserRecord,
} from '../metadata/users-table.js';
/** The account as the API shows it (http/ reads it through this service, never metadata/). */
export type { UserRecord } from '../metadata/users-table.js';
import type { LoginLockRow } from '../metadata/login-failures-table.js';
import type { EventActor } from '../domain/events.js';
import { recordEvent } from '../metadata/outbox-table.js';
import { adminEvent } from './audit/admin-events.js';
import type { AuthService } from './auth-service.js';
import { generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { type Principal, requireSignedIn } from './principal.js';
import { ServiceError } from './service-error.js';

// Local user accounts. System administrators manage everyone; users manage themselves.

const USERNAME = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,254}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Harbor's policy: 8 to 128 characters with an uppercase letter, a lowercase letter and a digit. */
export function checkPasswordPolicy(password: string): void {
  if (
    password.length < 8 ||
    password.length > 128 ||
    !/[A-Z]/.test(password) ||
    !/[a-z]/.test(password) ||
    !/\d/.test(password)
  ) {
    throw new ServiceError(
      'invalid',
      'the password must be 8 to 128 characters long with at least one uppercase letter, one lowercase letter and one digit',
    );
  }
}

/**
 * A random password that meets the policy, for an account whose password nobody chose (the first
 * account, an operator's reset): 24 base64url characters, drawn again until the policy holds.
 */
export function generateAccountPassword(): string {
  for (;;) {
    const password = generatePassword();
    try {
      checkPasswordPolicy(password);
      return password;
    } catch {
      // About one draw in twenty lacks a digit or a letter case: draw again.
    }
  }
}

export interface NewUser {
  username: string;
  email?: string | null;
  realname?: string;
  comment?: string;
  password: string;
}

export class UserService {
  constructor(
    private readonly db: Database,
    private readonly auth: AuthService,
  ) {}

  private requireAdmin(principal: Principal): void {
    requireSignedIn(principal);
    if (!(principal.kind === 'user' && principal.sysadmin)) {
      throw new ServiceError('forbidden', 'only system administrators may do this');
    }
  }

  private requireSelfOrAdmin(principal: Principal, userId: number): void {
    requireSignedIn(principal);
    if (principal.kind === 'user' && (principal.sysadmin || principal.id === userId)) return;
    throw new ServiceError('forbidden', 'you may only manage your own account');
  }

  async create(principal: Principal, user: NewUser): Promise<UserRecord> {
    // Self-registration is off: accounts are created by system administrators.
    this.requireAdmin(principal);
    if (!USERNAME.test(user.username) || user.username.startsWith('robot$')) {
      throw new ServiceError(
        'invalid',
        'usernames are 1 to 255 letters, digits and . _ @ - (not starting with robot$)',
      );
    }
    if (user.email !== undefined && user.email !== null && user.email !== '' && !EMAIL.test(user.email)) {
      throw new ServiceError('invalid', 'email is not a valid address');
    }
    checkPasswordPolicy(user.password);
    const passwordHash = await hashPassword(user.password);
    const created = await this.db.transaction(async (tx) => {
      const row = await insertUser(tx, {
        username: user.username,
        email: user.email ? user.email : null,
        realname: user.realname ?? '',
        comment: user.comment ?? '',
        passwordHash,
      });
      if (row)
        await recordEvent(
          tx,
          adminEvent('user.created', principal, null, { name: row.username, id: row.id }),
        );
      return row;
    });
    if (!created) throw new ServiceError('conflict', `username or email already in use`);
    return created;
  }

  async get(principal: Principal, id: number): Promise<UserRecord> {
    this.requireSelfOrAdmin(principal, id);
    const user = await findUserRecord(this.db, id);
    if (!user) throw new ServiceError('not-found', `user ${id} not found`);
    return user;
  }

  async current(principal: Principal): Promise<UserRecord> {
    if (principal.kind !== 'user') throw new ServiceError('unauthorized', 'sign in as a user');
    return this.get(principal, principal.id);
  }

  async list(
    principal: Principal,
    filter: { username?: string; usernameLike?: string; email?: string },
    offset: number,
    limit: number,
  ): Promise<{ items: UserRecord[]; total: number }> {
    this.requireAdmin(principal);
    return listUsers(this.db, filter, offset, limit);
  }

  /** Any signed-in user may look up usernames (to add members); only names and ids come back. */
  async search(principal: Principal, usernameLike: string, offset: number, limit: number) {
    requireSignedIn(principal);
    return listUsers(this.db, { usernameLike }, offset, limit);
  }

  async updateProfile(
    principal: Principal,
    id: number,
    profile: { email?: string | null; realname?: string; comment?: string },
  ): Promise<void> {
    this.requireSelfOrAdmin(principal, id);
    if (profile.email && !EMAIL.test(profile.email))
      throw new ServiceError('invalid', 'email is not a valid address');
    const before = await this.get(principal, id);
    try {
      await this.db.transaction(async (tx) => {
        await updateUserProfile(tx, id, profile);
        const changes = Object.fromEntries(Object.entries(profile).filter(([, v]) => v !== undefined));
        const event = { name: before.username, id, changes };
        await recordEvent(tx, adminEvent('user.updated', principal, null, event));
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new ServiceError('conflict', 'email already in use');
      throw err;
    }
  }

  /**
   * Users change their own password with the old one; administrators reset anyone's. The old
   * password is checked like a login from `clientAddress` (same throttle, LoginThrottledError),
   * so a stolen session cannot guess it freely. Every session of the user ends (see
   * setUserPasswordHash): the user signs in again with the new password.
   */
  async changePassword(
    principal: Principal,
    id: number,
    oldPassword: string | undefined,
    newPassword: string,
    clientAddress?: string,
  ): Promise<void> {
    this.requireSelfOrAdmin(principal, id);
    const stored = await passwordHashOf(this.db, id);
    if (stored === null) throw new ServiceError('not-found', `user ${id} not found`);
    if (principal.kind === 'user' && principal.id === id) {
      const confirmed =
        oldPassword !== undefined &&
        (await this.auth.confirmPassword(principal.username, oldPassword, clientAddress));
      if (!confirmed) throw new ServiceError('forbidden', 'the old password is wrong');
    }
    checkPasswordPolicy(newPassword);
    if (await verifyPassword(newPassword, stored)) {
      throw new ServiceError('invalid', 'the new password must differ from the old one');
    }
    const { username } = await this.get(principal, id);
    await this.savePassword(principal, { id, username }, await hashPassword(newPassword));
  }

  /** Stores a password hash and records the change (never the password) in one transaction. */
  private async savePassword(
    by: Principal | EventActor,
    user: { id: number; username: string },
    hash: string,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await setUserPasswordHash(tx, user.id, hash);
      const event = { name: user.username, id: user.id };
      await recordEvent(tx, adminEvent('user.password_changed', by, null, event));
    });
    this.auth.forgetVerified();
  }

  /**
   * An operator's reset (`wharf admin reset-password`, run with access to the database, so no
   * principal): sets a new password under the same policy as every other, or generates one.
   * Returns the password in effect, to be shown once when it was generated.
   */
  async resetPasswordAsOperator(
    username: string,
    newPassword: string | undefined,
  ): Promise<{ password: string; generated: boolean }> {
    const user = await findUserByName(this.db, username);
    if (!user) throw new ServiceError('not-found', `user ${username} not found`);
    const password = newPassword ?? generateAccountPassword();
    checkPasswordPolicy(password);
    const operator: EventActor = { name: 'wharf admin reset-password', kind: 'system', clientIp: null };
    await this.savePassword(operator, { id: user.id, username }, await hashPassword(password));
    return { password, generated: newPassword === undefined };
  }

  /** Login locks in force (sysadmin only): which name from which address, until when. */
  async loginLocks(principal: Principal): Promise<LoginLockRow[]> {
    this.requireAdmin(principal);
    return this.auth.throttle.locks();
  }

  /**
   * Lifts login locks (sysadmin only) of a login name (a user or robot), an address, or a name at
   * one address; returns how many counters were cleared.
   */
  async liftLoginLocks(
    principal: Principal,
    target: { account?: string; address?: string },
  ): Promise<number> {
    this.requireAdmin(principal);
    if (target.account === undefined && target.address === undefined) {
      throw new ServiceError('invalid', 'name a principal, an address, or both');
    }
    return this.db.transaction(async (tx) => {
      const lifted = await this.auth.throttle.lift(target, tx);
      const data = { account: target.account ?? null, address: target.address ?? null, lifted };
      await recordEvent(tx, adminEvent('login_lock.lifted', principal, null, data));
      return lifted;
    });
  }

  /** Lifts every login lock of one user, by id (sysadmin only). */
  async liftUserLoginLocks(principal: Principal, id: number): Promise<number> {
    this.requireAdmin(principal);
    const user = await this.get(principal, id);
    return this.liftLoginLocks(principal, { account: user.username });
  }

  async setSysadmin(principal: Principal, id: number, sysadmin: boolean): Promise<void> {
    this.requireAdmin(principal);
    if (principal.kind === 'user' && principal.id === id && !sysadmin) {
      throw new ServiceError('forbidden', 'you cannot revoke your own administrator rights');
    }
    const user = await this.get(principal, id);
    await this.db.transaction(async (tx) => {
      await setUserSysadmin(tx, id, sysadmin);
      const event = { name: user.username, id, changes: { sysadmin_flag: sysadmin } };
      await recordEvent(tx, adminEvent('user.admin_changed', principal, null, event));
    });
    this.auth.forgetVerified();
  }

  async delete(principal: Principal, id: number): Promise<void> {
    this.requireAdmin(principal);
    if (principal.kind === 'user' && principal.id === id)
      throw new ServiceError('forbidden', 'you cannot delete yourself');
    const user = await this.get(principal, id);
    await this.db.transaction(async (tx) => {
      await deleteUser(tx, id);
      await recordEvent(tx, adminEvent('user.deleted', principal, null, { name: user.username, id }));
    });
    this.auth.forgetVerified();
  }
}
