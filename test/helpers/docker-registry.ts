import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForHttp } from './ports.js';

// Debian's docker-registry (CNCF distribution 2.8), started on loopback with its own temporary
// storage: the third-party peer for benchmarks and for checking that tests expect what the
// reference implementation does. Optionally with htpasswd Basic auth or over HTTPS.

export interface DockerRegistryHandle {
  /** host:port, for clients that take a registry host. */
  host: string;
  url: string;
  port: number;
  rootDir: string;
  pid: number;
  stop(): Promise<void>;
}

export interface DockerRegistryOptions {
  rootDir?: string;
  /** An htpasswd file (bcrypt hashes): every request then needs HTTP Basic. */
  htpasswdFile?: string;
  /** PEM files of the certificate and key to serve HTTPS with. */
  tls?: { certificate: string; key: string };
}

const START_TIMEOUT_MS = 20_000;

export async function startDockerRegistry(
  options: DockerRegistryOptions = {},
): Promise<DockerRegistryHandle> {
  // Say what is missing instead of an unhandled spawn error that kills the caller.
  try {
    execFileSync('docker-registry', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'docker-registry is not installed (Debian package docker-registry; npm test installs it)',
    );
  }
  const port = await freePort();
  const base = await mkdtemp(join(tmpdir(), 'wharf-docker-registry-'));
  const rootDir = options.rootDir ?? join(base, 'storage');
  const configPath = join(base, 'config.yml');
  await writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${rootDir}`,
      '  delete:',
      '    enabled: true',
      ...(options.htpasswdFile
        ? ['auth:', '  htpasswd:', '    realm: wharf-test', `    path: ${options.htpasswdFile}`]
        : []),
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(options.tls
        ? ['  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`]
        : []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.on('error', () => undefined);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  try {
    // Over HTTPS any TCP answer means it listens: the TLS handshake is the test's business.
    if (options.tls) await waitForPort(port, child);
    else await waitForHttp(`${url}/v2/`, START_TIMEOUT_MS);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`docker-registry did not start: ${String(err)}\n${stderr}`, { cause: err });
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    port,
    rootDir,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(base, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`port ${port} never answered`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
