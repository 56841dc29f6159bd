import { ConfigError, loadConfig } from '../config/load.js';
import type { WharfConfig } from '../config/schema.js';

/** The options every command that opens the data store takes. */
export const CONFIG_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

/** The configuration from --config, --port and --data-dir (over the file and the environment). */
export function configFrom(values: {
  config?: string | undefined;
  port?: string | undefined;
  'data-dir'?: string | undefined;
}): WharfConfig {
  let port: number | undefined;
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port)) throw new ConfigError(`--port: must be a number (got "${values.port}")`);
    port = Number(values.port);
  }
  return loadConfig({
    ...(values.config !== undefined && { file: values.config }),
    overrides: {
      ...(port !== undefined && { port }),
      ...(values['data-dir'] !== undefined && { dataDir: values['data-dir'] }),
    },
  });
}
