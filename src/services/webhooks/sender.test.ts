import { describe, expect, it } from 'vitest';
import { OutboundGuard } from '../../net/outbound-guard.js';
import { WebhookSender } from './sender.js';

// A target the outbound policy refuses fails at once and for good, with the policy's message:
// retrying unchanged would be refused again. The guard refuses before any connection is made.

describe('WebhookSender', () => {
  it('reports a target refused by the outbound policy as a final failure', async () => {
    const sender = new WebhookSender(
      new OutboundGuard({ deny_networks: ['127.0.0.0/8'], allow_networks: [] }),
      2_000,
    );
    try {
      const result = await sender.send({
        address: 'http://127.0.0.1:9/hook',
        payload: { contentType: 'application/json', body: '{}' },
        authHeader: '',
        skipCertVerify: false,
        secret: 's',
        eventId: 'e',
        eventType: 'PUSH_ARTIFACT',
        signal: new AbortController().signal,
      });
      expect(result).toEqual({
        ok: false,
        final: true,
        message: expect.stringMatching(/refused by the outbound policy/) as unknown,
      });
    } finally {
      await sender.close();
    }
  });
});
