import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type WharfConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** Path of a YAML file (from --config or WHARF_CONFIG). */
  file?: string;
  /** Values from command-line flags; they win over the environment and the file. */
  overrides?: { port?: number; dataDir?: string };
  env?: NodeJS.ProcessEnv;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * Loads the configuration: file, then environment (WHARF_*), then flags. Errors name the key
 * and say what is wrong, e.g. `http.port: must be a number (got "abc")`.
 */
export function loadConfig(sources: ConfigSources = {}): WharfConfig {
  const env = sources.env ?? process.env;
  const file = sources.file ?? env.WHARF_CONFIG;
  let raw: Record<string, Json> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`configuration file ${file} is not valid YAML: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ConfigError(`configuration file ${file} must hold a mapping of keys at the top level`);
      }
      raw = parsed as Record<string, Json>;
    }
  }
  const merged = structuredClone(raw);
  const set = (path: string[], value: Json) => {
    let node: Record<string, Json> = merged;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, Json>;
    }
    node[path[path.length - 1] as string] = value;
  };
  const numberFromEnv = (name: string): Json => {
    const value = env[name] as string;
    return /^\d+$/.test(value) ? Number(value) : value;
  };
  if (env.WHARF_PORT !== undefined) set(['http', 'port'], numberFromEnv('WHARF_PORT'));
  if (env.WHARF_DATA_DIR !== undefined) set(['data_dir'], env.WHARF_DATA_DIR);
  if (env.WHARF_ADMIN_PASSWORD !== undefined) set(['admin_password'], env.WHARF_ADMIN_PASSWORD);
  if (env.WHARF_DATABASE_URL !== undefined) set(['database', 'url'], env.WHARF_DATABASE_URL);
  if (env.WHARF_LOG_LEVEL !== undefined) set(['log', 'level'], env.WHARF_LOG_LEVEL);
  if (sources.overrides?.port !== undefined) set(['http', 'port'], sources.overrides.port);
  if (sources.overrides?.dataDir !== undefined) set(['data_dir'], sources.overrides.dataDir);

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(
      `invalid configuration${file ? ` (${file})` : ''}:\n${describeIssues(result.error)}`,
    );
  }
  const config = result.data;
  config.data_dir = resolve(config.data_dir);
  return config;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      if (issue.code === 'unrecognized_keys') {
        return `  ${key === '(top level)' ? '' : `${key}: `}unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `  ${key}: ${issue.message}`;
    })
    .join('\n');
}
