import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';

// Manifest reads per second. GET is measured with wrk. HEAD cannot be: wrk 4.1's response parser
// waits for the body that Content-Length announces, which a HEAD response never sends (wg/wrk
// issue 198), so HEAD uses the keep-alive client below, which only reads response heads.

const run = promisify(execFile);

export interface ReadTarget {
  url: string;
  /** Request headers besides Host, e.g. Accept and, where anonymous reads are refused, Authorization. */
  headers: Record<string, string>;
}

export interface ReadResult {
  requests: number;
  seconds: number;
  perSecond: number;
}

export async function wrkGet(
  target: ReadTarget,
  options: { connections: number; threads: number; seconds: number },
): Promise<ReadResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--timeout',
    '5s',
    ...Object.entries(target.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    target.url,
  ];
  const { stdout } = await run('wrk', args, { timeout: (options.seconds + 30) * 1000 });
  const total = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(stdout);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!total || !rate) throw new Error(`cannot read wrk output:\n${stdout}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (non2xx) throw new Error(`wrk GET ${target.url}: ${non2xx[1]} responses were not 2xx/3xx\n${stdout}`);
  const socketErrors = /Socket errors: (.*)/.exec(stdout);
  if (socketErrors) throw new Error(`wrk GET ${target.url}: socket errors (${socketErrors[1]})\n${stdout}`);
  const unit = total[3] === 'ms' ? 0.001 : total[3] === 'm' ? 60 : 1;
  return { requests: Number(total[1]), seconds: Number(total[2]) * unit, perSecond: Number(rate[1]) };
}

/**
 * HEAD requests on `connections` keep-alive connections, one request in flight per connection,
 * for `seconds`. Every response must be a 200 whose head is all that arrives.
 */
export async function headLoad(
  target: ReadTarget,
  options: { connections: number; seconds: number },
): Promise<ReadResult> {
  const url = new URL(target.url);
  const lines = [`HEAD ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  for (const [name, value] of Object.entries(target.headers)) lines.push(`${name}: ${value}`);
  const request = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  const start = performance.now();
  const deadline = start + options.seconds * 1000;
  const counts = await Promise.all(
    Array.from({ length: options.connections }, () => headConnection(url, request, deadline)),
  );
  const seconds = (performance.now() - start) / 1000;
  const requests = counts.reduce((a, b) => a + b, 0);
  return { requests, seconds, perSecond: requests / seconds };
}

function headConnection(url: URL, request: Buffer, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    socket.setNoDelay(true);
    let pending = '';
    let count = 0;
    const fail = (message: string) => {
      socket.destroy();
      reject(new Error(`HEAD ${url.href}: ${message}`));
    };
    socket.setTimeout(5_000, () => fail('no response within 5 s'));
    socket.on('error', (err) => fail(err.message));
    socket.on('connect', () => socket.write(request));
    socket.on('close', () => {
      if (performance.now() < deadline) fail(`server closed the connection after ${count} responses`);
    });
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = pending.slice(0, end);
      if (pending.length > end + 4) return fail(`bytes after the response head: ${JSON.stringify(pending)}`);
      pending = '';
      if (!head.startsWith('HTTP/1.1 200 ')) return fail(`unexpected response: ${head.split('\r\n', 1)[0]}`);
      if (/^connection:\s*close/im.test(head)) return fail('server asked to close the connection');
      count++;
      if (performance.now() < deadline) {
        socket.write(request);
      } else {
        socket.removeAllListeners('close');
        socket.end();
        resolve(count);
      }
    });
  });
}
