import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type CryptoKey,
} from 'jose';

// Token signing keys live in files that every instance reads, so a token issued by one instance
// verifies on every other. Rotation: add the new key's public half to `verification_key_files`
// everywhere, then switch `signing_key_file`; tokens signed by either key verify meanwhile.

export const TOKEN_ALGORITHM = 'ES256';

export interface TokenKeys {
  signing: { key: CryptoKey; kid: string };
  /** Every key a token may be signed with, by key id. */
  verification: Map<string, CryptoKey>;
}

async function kidOf(publicKey: CryptoKey): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

async function publicFromPem(pem: string): Promise<CryptoKey> {
  if (pem.includes('PRIVATE KEY')) {
    // A private key file: its public half verifies (extractable so the JWK can be derived).
    const priv = await importPKCS8(pem, TOKEN_ALGORITHM, { extractable: true });
    const jwk = await exportJWK(priv);
    const { d: _d, ...pub } = jwk;
    return (await importJWK({ ...pub, alg: TOKEN_ALGORITHM }, TOKEN_ALGORITHM)) as CryptoKey;
  }
  return importSPKI(pem, TOKEN_ALGORITHM, { extractable: true });
}

/**
 * Loads the signing key (PKCS#8 PEM, EC P-256). When `generateIfMissing` (the default path in the
 * data directory) and the file does not exist, a key is created with mode 0600.
 */
export async function loadTokenKeys(
  signingKeyFile: string,
  verificationKeyFiles: readonly string[],
  generateIfMissing: boolean,
): Promise<TokenKeys> {
  if (!existsSync(signingKeyFile)) {
    if (!generateIfMissing) throw new Error(`token signing key file ${signingKeyFile} does not exist`);
    const { privateKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
    mkdirSync(dirname(signingKeyFile), { recursive: true, mode: 0o700 });
    writeFileSync(signingKeyFile, await exportPKCS8(privateKey), { mode: 0o600, flag: 'wx' });
  }
  const signingPem = readFileSync(signingKeyFile, 'utf8');
  const signingKey = await importPKCS8(signingPem, TOKEN_ALGORITHM, { extractable: true });
  const signingPublic = await publicFromPem(signingPem);
  const verification = new Map<string, CryptoKey>();
  const signingKid = await kidOf(signingPublic);
  verification.set(signingKid, signingPublic);
  for (const file of verificationKeyFiles) {
    const key = await publicFromPem(readFileSync(file, 'utf8'));
    verification.set(await kidOf(key), key);
  }
  return { signing: { key: signingKey, kid: signingKid }, verification };
}
