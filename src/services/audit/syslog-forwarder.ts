import { connect, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import type { AuditEntry } from '../../metadata/audit-table.js';
import { OutboundRefusedError, type OutboundGuard } from '../../net/outbound-guard.js';

// Forwards audit entries to a syslog receiver (Harbor's audit_log_forward_endpoint): RFC 5424
// messages over TCP, one per line (RFC 6587 non-transparent framing). Forwarding never holds up
// the caller: entries wait in a bounded queue while the receiver is away and the connection is
// retried with backoff; when the queue is full the oldest lines are dropped and counted. The
// database record (unless skip_audit_log_database) is written whatever happens here.

/** LOG_AUDIT (13): the facility syslog reserves for audit trails. */
const FACILITY = 13;
const SEVERITY_INFO = 6;
const SEVERITY_WARNING = 4;
/** An enterprise number for structured data (IANA's documentation example). */
const SD_ID = 'audit@32473';
const MAX_BACKOFF_MS = 30_000;

export interface SyslogForwarderOptions {
  /** `host:port` (`[v6]:port` for an IPv6 literal). */
  endpoint: string;
  guard: OutboundGuard;
  /** Lines held while the receiver is unreachable. */
  maxQueued?: number;
  onError?: (err: unknown) => void;
}

export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(endpoint.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!host || !(port > 0 && port < 65536)) {
    throw new Error(`audit forward endpoint "${endpoint}" is not host:port`);
  }
  return { host, port };
}

export class SyslogForwarder {
  private readonly host: string;
  private readonly port: number;
  private readonly queue: string[] = [];
  private socket: Socket | undefined;
  private connecting = false;
  private backoffMs = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Lines given up because the queue was full. */
  dropped = 0;
  /** Lines handed to the connection. */
  sent = 0;

  constructor(private readonly options: SyslogForwarderOptions) {
    ({ host: this.host, port: this.port } = parseEndpoint(options.endpoint));
  }

  /** Queues entries for the receiver; returns at once. */
  forward(entries: readonly AuditEntry[]): void {
    if (this.closed) return;
    const max = this.options.maxQueued ?? 10_000;
    for (const entry of entries) {
      this.queue.push(formatRfc5424(entry));
      if (this.queue.length > max) {
        this.queue.shift();
        this.dropped++;
      }
    }
    this.pump();
  }

  /** Stops forwarding: whatever the open connection has taken is flushed, the rest is dropped. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        // A receiver that never closes its side must not hold up shutdown.
        setTimeout(() => socket.destroy(), 2000).unref();
      });
    }
  }

  private pump(): void {
    if (this.closed || this.queue.length === 0) return;
    if (!this.socket) {
      this.open();
      return;
    }
    const lines = this.queue.splice(0, this.queue.length);
    this.sent += lines.length;
    this.socket.write(lines.join(''));
  }

  private open(): void {
    if (this.connecting || this.retryTimer || this.closed) return;
    this.connecting = true;
    if (isIP(this.host) !== 0 && !this.options.guard.permits(this.host)) {
      this.failed(new OutboundRefusedError(this.host, this.host));
      return;
    }
    const socket = connect({ host: this.host, port: this.port, lookup: this.options.guard.lookup });
    socket.setKeepAlive(true);
    socket.once('connect', () => {
      this.connecting = false;
      this.backoffMs = 500;
      this.socket = socket;
      this.pump();
    });
    socket.on('error', (err) => {
      if (this.socket === socket) this.socket = undefined;
      this.failed(err);
    });
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = undefined;
        this.pump();
      }
    });
    // The receiver has nothing to say; reading keeps a half-closed peer noticed.
    socket.resume();
  }

  private failed(err: unknown): void {
    this.connecting = false;
    this.options.onError?.(err);
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, this.backoffMs);
    this.retryTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }
}

const HOST = hostname().replace(/[^\x21-\x7e]/g, '') || '-';

/** One RFC 5424 message, newline-terminated. */
export function formatRfc5424(entry: AuditEntry): string {
  const ok = entry.success ?? true;
  const pri = FACILITY * 8 + (ok ? SEVERITY_INFO : SEVERITY_WARNING);
  const time = (entry.time ?? new Date()).toISOString();
  const msgId = token(`${entry.operation}_${entry.resourceType}`);
  const params: [string, string | number | null | undefined][] = [
    ['operator', entry.operator],
    ['operator_kind', entry.operatorKind ?? 'user'],
    ['operation', entry.operation],
    ['resource_type', entry.resourceType],
    ['resource', entry.resource],
    ['result', ok ? 'success' : 'failure'],
    ['project_id', entry.projectId],
    ['project', entry.projectName],
    ['client_ip', entry.clientIp],
    ['event_id', entry.eventId],
  ];
  const sd = params
    .filter((p): p is [string, string | number] => p[1] !== null && p[1] !== undefined)
    .map(([k, v]) => `${k}="${String(v).replace(/["\\\]]/g, (c) => `\\${c}`)}"`)
    .join(' ');
  const message = (entry.description ?? `${entry.operation} ${entry.resourceType} ${entry.resource}`).replace(
    /[\r\n]+/g,
    ' ',
  );
  return `<${pri}>1 ${time} ${HOST} wharf ${process.pid} ${msgId} [${SD_ID} ${sd}] ${message}\n`;
}

/** PRINTUSASCII without spaces, at most 32 characters (RFC 5424 MSGID). */
function token(value: string): string {
  return value.replace(/[^\x21-\x7e]/g, '_').slice(0, 32) || '-';
}
