// Settings every test-started Wharf shares, spawned or in-process.

/**
 * scrypt cost (log2 N) of the passwords and robot secrets the tests create: a hash at the default
 * 2^17 takes a few hundred milliseconds and 128 MiB, which the suite paid per account created and
 * per login. Tests of the KDF itself set auth.password_kdf_cost back to 17.
 */
export const TEST_PASSWORD_KDF_COST = 10;
