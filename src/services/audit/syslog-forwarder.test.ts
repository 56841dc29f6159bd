import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OutboundGuard, OutboundRefusedError } from '../../net/outbound-guard.js';
import { formatRfc5424, parseEndpoint, SyslogForwarder } from './syslog-forwarder.js';

const entry = {
  projectId: 7,
  operator: 'robot$app+ci',
  operatorKind: 'robot' as const,
  resourceType: 'artifact',
  resource: 'app/web:v1',
  operation: 'create',
  description: 'pushed app/web@sha256:ab tagged v1',
  clientIp: '127.0.0.1',
  time: new Date('2026-01-02T03:04:05.678Z'),
  eventId: '1b4e28ba-2fa1-11d2-883f-0016d3cca427',
};

describe('formatRfc5424', () => {
  it('writes one RFC 5424 line with structured data and escapes', () => {
    const line = formatRfc5424({ ...entry, resource: 'a"b]c\\d' });
    expect(line.endsWith('\n')).toBe(true);
    expect(line).toMatch(
      /^<110>1 2026-01-02T03:04:05\.678Z \S+ wharf \d+ create_artifact \[audit@32473 operator="robot\$app\+ci" operator_kind="robot" operation="create" resource_type="artifact" resource="a\\"b\\]c\\\\d" result="success" project_id="7" client_ip="127\.0\.0\.1" event_id="[0-9a-f-]+"\] pushed app\/web@sha256:ab tagged v1\n$/,
    );
  });

  it('marks a failure as a warning and keeps the message on one line', () => {
    const line = formatRfc5424({ ...entry, success: false, description: 'two\nlines' });
    expect(line.startsWith('<108>1 ')).toBe(true);
    expect(line).toContain('result="failure"');
    expect(line.split('\n')).toHaveLength(2);
  });
});

describe('parseEndpoint', () => {
  it('reads host:port and [v6]:port, refuses the rest', () => {
    expect(parseEndpoint('logs.example:514')).toEqual({ host: 'logs.example', port: 514 });
    expect(parseEndpoint('[::1]:6514')).toEqual({ host: '::1', port: 6514 });
    for (const bad of ['logs.example', ':514', 'host:0', 'host:70000', '::1:514']) {
      expect(() => parseEndpoint(bad), bad).toThrow(/host:port/);
    }
  });
});

describe('SyslogForwarder', () => {
  it('connects through the outbound guard: a refused address is never reached', async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const errors: unknown[] = [];
    const refused = new Promise<void>((resolve) => {
      const forwarder = new SyslogForwarder({
        endpoint: `127.0.0.1:${port}`,
        guard: new OutboundGuard({ deny_networks: ['127.0.0.0/8'], allow_networks: [] }),
        onError: (err) => {
          errors.push(err);
          void forwarder.close().then(resolve);
        },
      });
      forwarder.forward([entry]);
    });
    await refused;
    expect(errors[0]).toBeInstanceOf(OutboundRefusedError);
    expect(connections).toBe(0);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('drops the oldest lines beyond its queue while the receiver is away', () => {
    const forwarder = new SyslogForwarder({
      endpoint: '127.0.0.1:9',
      guard: new OutboundGuard({ deny_networks: ['127.0.0.0/8'], allow_networks: [] }),
      maxQueued: 2,
    });
    forwarder.forward([entry, entry, entry, entry]);
    expect(forwarder.dropped).toBe(2);
    void forwarder.close();
  });
});
