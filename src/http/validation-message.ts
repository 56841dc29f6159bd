import type { FastifySchemaValidationError } from 'fastify';

// The message of a 400 from a route schema: each problem with the field it concerns, e.g.
// "speed must be an integer" or "member_user.user_id: Invalid input: expected number, received string".

const CONTEXTS: Record<string, string> = {
  body: 'the request body',
  querystring: 'the query',
  params: 'the path',
  headers: 'the headers',
};

export function validationMessage(errors: FastifySchemaValidationError[], dataVar: string): string {
  const parts = errors.map((error) => {
    const field = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const message = error.message ?? 'is invalid';
    if (field === '')
      return message.startsWith('the ') ? message : `${CONTEXTS[dataVar] ?? dataVar}: ${message}`;
    // Messages written for the field already name it ("name is required").
    const leaf = field.slice(field.lastIndexOf('.') + 1);
    const named = message.includes(field) || (!/^\d+$/.test(leaf) && message.includes(leaf));
    return named ? message : `${field}: ${message}`;
  });
  return [...new Set(parts)].join('; ');
}
