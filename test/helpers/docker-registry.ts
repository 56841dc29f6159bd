import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForHttp } from './ports.js';

// Debian's docker-registry (CNCF distribution 2.8), started on loopback with its own temporary
// storage: the third-party peer for benchmarks and for checking that tests expect what the
// reference implementation does.

export interface DockerRegistryHandle {
  /** host:port, for clients that take a registry host. */
  host: string;
  url: string;
  port: number;
  rootDir: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startDockerRegistry(options: { rootDir?: string } = {}): Promise<DockerRegistryHandle> {
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
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/v2/`, 20_000);
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
