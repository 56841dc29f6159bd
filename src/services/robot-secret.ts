import { randomInt } from 'node:crypto';
import { ServiceError } from './service-error.js';

// A robot's secret: Harbor's strength rule for chosen ones, and generated ones that meet it.

const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_LENGTH = 32;

/** Harbor's secret rule: at least 8 characters with an upper-case letter, a lower-case letter and a digit. */
export function isValidRobotSecret(secret: string): boolean {
  return (
    secret.length >= 8 &&
    secret.length <= 128 &&
    /[a-z]/.test(secret) &&
    /[A-Z]/.test(secret) &&
    /\d/.test(secret)
  );
}

/** A random secret of 32 letters and digits (about 190 bits) that satisfies isValidRobotSecret. */
export function generateRobotSecret(): string {
  for (;;) {
    let secret = '';
    for (let i = 0; i < SECRET_LENGTH; i++) secret += SECRET_ALPHABET[randomInt(SECRET_ALPHABET.length)];
    if (isValidRobotSecret(secret)) return secret;
  }
}

/** Refuses a chosen secret that breaks the rule; none chosen is fine (one is generated). */
export function requireValidSecret(secret: string | undefined): void {
  if (secret !== undefined && !isValidRobotSecret(secret)) {
    throw new ServiceError(
      'invalid',
      'the secret must be 8 to 128 characters with at least one uppercase letter, one lowercase letter and one digit',
    );
  }
}
