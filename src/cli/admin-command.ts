import { parseArgs } from 'node:util';
import { AuthService } from '../services/auth-service.js';
import { ServiceError } from '../services/service-error.js';
import { UserService } from '../services/user-service.js';
import { openBackends } from '../wharf.js';
import { CONFIG_OPTIONS, configFrom } from './config-args.js';

// `wharf admin reset-password USER`: recovers a lost password by whoever can reach the database
// (the data directory of an embedded one, whose server must be stopped, or an external
// PostgreSQL's credentials). The new password follows the same policy as the users API.

export const ADMIN_USAGE = `Usage:
  wharf admin reset-password USER [--config FILE] [--data-dir DIR] [--password-stdin]

Sets a new password for USER. With --password-stdin the password is read from standard input
(one line); otherwise one is generated and printed once. The password must be 8 to 128
characters with an uppercase letter, a lowercase letter and a digit.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One line: the newline an `echo` or a terminal adds is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function resetPassword(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONFIG_OPTIONS, 'password-stdin': { type: 'boolean', default: false } },
  });
  const [username, ...extra] = positionals;
  if (username === undefined || extra.length > 0) {
    console.error(ADMIN_USAGE);
    return 2;
  }
  const config = configFrom(values);
  const newPassword = values['password-stdin'] ? await readStdin() : undefined;
  const backends = await openBackends(config);
  try {
    const users = new UserService(backends.db, new AuthService(backends.db));
    const result = await users.resetPasswordAsOperator(username, newPassword);
    if (result.generated) {
      console.log(
        `\nThe new password of "${username}" is:\n\n    ${result.password}\n\nIt is shown only this once.\n`,
      );
    } else {
      console.log(`The password of "${username}" was changed.`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ServiceError) {
      console.error(`wharf admin reset-password: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await backends.close();
  }
}

export async function runAdmin(args: string[]): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === 'reset-password') return resetPassword(rest);
  console.error(
    subcommand === undefined ? ADMIN_USAGE : `wharf admin: unknown command "${subcommand}"\n${ADMIN_USAGE}`,
  );
  return 2;
}
