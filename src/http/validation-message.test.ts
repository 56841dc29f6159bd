import type { FastifySchemaValidationError } from 'fastify';
import { describe, expect, it } from 'vitest';
import { validationMessage } from './validation-message.js';

const issue = (instancePath: string, message: string): FastifySchemaValidationError => ({
  keyword: 'custom',
  instancePath,
  schemaPath: '#',
  params: {},
  message,
});

describe('validationMessage', () => {
  it('keeps a message that names its field, and prefixes one that does not', () => {
    expect(validationMessage([issue('/speed', 'speed must be an integer')], 'body')).toBe(
      'speed must be an integer',
    );
    expect(
      validationMessage([issue('/credential/access_key', 'Invalid input: expected string')], 'body'),
    ).toBe('credential.access_key: Invalid input: expected string');
    expect(
      validationMessage([issue('/member_user/user_id', 'member_user.user_id must be a number')], 'body'),
    ).toBe('member_user.user_id must be a number');
  });

  it('an array index is not taken as named by a number in the message', () => {
    expect(validationMessage([issue('/filters/0', 'expected 0 or more filters')], 'body')).toBe(
      'filters.0: expected 0 or more filters',
    );
  });

  it('a problem with the whole body or query says which', () => {
    expect(validationMessage([issue('', 'the request body must be a JSON object')], 'body')).toBe(
      'the request body must be a JSON object',
    );
    expect(validationMessage([issue('', 'Invalid input')], 'querystring')).toBe('the query: Invalid input');
  });

  it('joins several problems once each', () => {
    const twice = [
      issue('/name', 'name is required'),
      issue('/name', 'name is required'),
      issue('/url', 'url is required'),
    ];
    expect(validationMessage(twice, 'body')).toBe('name is required; url is required');
  });
});
