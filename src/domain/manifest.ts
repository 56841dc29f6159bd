import { parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { baseMediaType, isForeignLayer, manifestKind, type ManifestKind } from './media-types.js';

// Parsing and validation of image manifests and indexes (OCI and Docker schema 2). Pure: the
// service checks afterwards that everything referenced exists in the repository.

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Record<string, unknown>;
}

export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  /** artifactType for the referrers API: the field, else (image manifests) the config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

type JsonObject = Record<string, unknown>;

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseStringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid(`${where} must be a map of strings`);
  }
  return value as Record<string, string>;
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be an object`);
  const { mediaType, digest, size, artifactType, urls } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0)
    throw invalid(`${where}.mediaType is required`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest is required`);
  const parsed = parseDigest(digest);
  if (!parsed.ok) throw invalid(`${where}.digest: ${parsed.message}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const descriptor: Descriptor = { mediaType, digest, size };
  if (artifactType !== undefined) {
    if (typeof artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
    descriptor.artifactType = artifactType;
  }
  const annotations = parseStringMap(value.annotations, `${where}.annotations`);
  if (annotations) descriptor.annotations = annotations;
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) {
      throw invalid(`${where}.urls must be an array of strings`);
    }
    descriptor.urls = urls as string[];
  }
  if (isObject(value.platform)) descriptor.platform = value.platform;
  return descriptor;
}

function parseDescriptorList(value: unknown, where: string, required: boolean): Descriptor[] {
  if (value === undefined || value === null) {
    if (required) throw invalid(`${where} is required`);
    return [];
  }
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, i) => parseDescriptor(item, `${where}[${i}]`));
}

/**
 * Parses manifest bytes. `contentType` is the request's Content-Type; when it names a manifest
 * type it must agree with the body's mediaType field. Throws RegistryError(MANIFEST_INVALID).
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const header = baseMediaType(contentType);
  const headerType = header && manifestKind(header) ? header : undefined;
  const field = doc.mediaType;
  if (field !== undefined && typeof field !== 'string') throw invalid('mediaType must be a string');
  if (field !== undefined && headerType !== undefined && field !== headerType) {
    throw invalid(`mediaType "${field}" does not match Content-Type "${headerType}"`);
  }
  let mediaType = headerType ?? field;
  if (mediaType === undefined) {
    // No declared type: infer OCI's from the shape, as the image spec allows for un-typed documents.
    mediaType = Array.isArray(doc.manifests)
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.oci.image.manifest.v1+json';
  }
  const kind = manifestKind(mediaType);
  if (!kind) throw invalid(`unsupported manifest media type "${mediaType}"`);

  const subject =
    doc.subject === undefined || doc.subject === null ? undefined : parseDescriptor(doc.subject, 'subject');
  const annotations = parseStringMap(doc.annotations, 'annotations');
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') {
    throw invalid('artifactType must be a string');
  }
  // The spec treats an empty artifactType like an absent one (the referrers API then falls back to
  // the config media type for images, and leaves the field out for indexes).
  const declaredArtifactType = (doc.artifactType as string | undefined) || undefined;

  if (kind === 'image') {
    const config = parseDescriptor(doc.config, 'config');
    const layers = parseDescriptorList(doc.layers, 'layers', true);
    return {
      mediaType,
      kind,
      config,
      layers,
      manifests: [],
      ...(subject && { subject }),
      artifactType: declaredArtifactType ?? config.mediaType,
      ...(annotations && { annotations }),
    };
  }
  const manifests = parseDescriptorList(doc.manifests, 'manifests', true);
  return {
    mediaType,
    kind,
    layers: [],
    manifests,
    ...(subject && { subject }),
    ...(declaredArtifactType !== undefined && { artifactType: declaredArtifactType }),
    ...(annotations && { annotations }),
  };
}

/** Blobs the registry must hold for this manifest (foreign layers with URLs are exempt). */
export function requiredBlobDigests(manifest: ParsedManifest): string[] {
  const digests = new Set<string>();
  if (manifest.config) digests.add(manifest.config.digest);
  for (const layer of manifest.layers) {
    if (isForeignLayer(layer.mediaType) && layer.urls && layer.urls.length > 0) continue;
    digests.add(layer.digest);
  }
  return [...digests];
}
