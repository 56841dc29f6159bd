import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { DEFAULT_OUTBOUND_GUARD, outboundRefusal, type OutboundGuard } from '../../net/outbound-guard.js';
import type { Payload } from './payloads.js';

// Sends one webhook request through the outbound guard: every connection (names after DNS, IP
// literals before connecting) passes it. Beyond Harbor, each request carries an HMAC-SHA256 of
// the exact body bytes under the policy's secret, and the event id as an idempotency key.

export const SIGNATURE_HEADER = 'x-wharf-signature';
export const EVENT_ID_HEADER = 'x-wharf-event-id';
export const EVENT_TYPE_HEADER = 'x-wharf-event-type';

export interface Delivery {
  address: string;
  payload: Payload;
  authHeader: string;
  skipCertVerify: boolean;
  secret: string;
  eventId: string;
  eventType: string;
  signal: AbortSignal;
}

/** The outcome of one attempt; `final` when retrying unchanged cannot help (refused by policy). */
export type SendResult = { ok: true; status: number } | { ok: false; message: string; final: boolean };

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export class WebhookSender {
  readonly #verifying: Agent;
  readonly #skipping: Agent;
  readonly #timeoutMs: number;

  constructor(guard: OutboundGuard = DEFAULT_OUTBOUND_GUARD, timeoutMs = 10_000) {
    this.#timeoutMs = timeoutMs;
    const agent = (rejectUnauthorized: boolean) =>
      new Agent({
        connect: guard.connector({ timeout: timeoutMs, rejectUnauthorized }),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    this.#verifying = agent(true);
    this.#skipping = agent(false);
  }

  async send(d: Delivery): Promise<SendResult> {
    const headers: Record<string, string> = {
      'content-type': d.payload.contentType,
      'user-agent': 'Wharf-Webhook',
      [SIGNATURE_HEADER]: signBody(d.secret, d.payload.body),
      [EVENT_ID_HEADER]: d.eventId,
      [EVENT_TYPE_HEADER]: d.eventType,
      ...(d.authHeader && { authorization: d.authHeader }),
    };
    const signal = AbortSignal.any([d.signal, AbortSignal.timeout(this.#timeoutMs * 2)]);
    try {
      const res = await request(d.address, {
        method: 'POST',
        headers,
        body: d.payload.body,
        dispatcher: d.skipCertVerify ? this.#skipping : this.#verifying,
        signal,
      });
      // The answer's body is not used; reading it frees the connection for the next delivery.
      const text = await res.body.text().catch(() => '');
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
      return { ok: false, message: `the receiver answered ${res.statusCode}${snippet(text)}`, final: false };
    } catch (err) {
      const refused = outboundRefusal(err);
      if (refused) return { ok: false, message: refused.message, final: true };
      return { ok: false, message: `sending failed: ${describe(err)}`, final: false };
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#verifying.close(), this.#skipping.close()]);
  }
}

function snippet(text: string): string {
  const t = text.trim().slice(0, 200);
  return t ? ` (${t})` : '';
}

function describe(err: unknown): string {
  const code =
    (err as { code?: unknown; cause?: { code?: unknown } }).cause?.code ?? (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}
