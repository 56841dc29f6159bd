// The copy engine: one artifact from one registry to another over RemoteRegistry on both ends.
export { copyArtifact } from './copy-artifact.js';
export { CopyError, isCopyError, type CopyErrorKind, type CopySide } from './errors.js';
export { TokenBucket, throttle } from './token-bucket.js';
export {
  DEFAULTS as COPY_DEFAULTS,
  type CopyEndpoint,
  type CopyOptions,
  type CopyRequest,
  type CopyResult,
} from './types.js';
