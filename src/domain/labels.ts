// Rules for Harbor's labels, pure so that the API edge and the service agree and unit tests can
// pin them down. Harbor bounds names at 128 characters and its portal offers #RRGGBB colours.

export type LabelScope = 'g' | 'p';

export const MAX_LABEL_NAME = 128;
export const MAX_LABEL_DESCRIPTION = 1024;

const COLOR = /^#[0-9a-fA-F]{6}$/;
// Control characters (C0, DEL, C1) would make names that no list or log shows faithfully.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function isLabelScope(value: unknown): value is LabelScope {
  return value === 'g' || value === 'p';
}

/** Why a label name is unacceptable, or null when it is fine. */
export function labelNameProblem(name: string): string | null {
  if (name.length === 0) return 'name is required';
  if ([...name].length > MAX_LABEL_NAME) return `name is longer than ${MAX_LABEL_NAME} characters`;
  if (CONTROL.test(name)) return 'name must not contain control characters';
  if (name.trim() !== name) return 'name must not start or end with white space';
  return null;
}

/** Why a colour is unacceptable, or null. The empty string means "no colour", as in Harbor. */
export function labelColorProblem(color: string): string | null {
  return color === '' || COLOR.test(color) ? null : 'color must be #RRGGBB (hexadecimal) or empty';
}

export function labelDescriptionProblem(description: string): string | null {
  return [...description].length > MAX_LABEL_DESCRIPTION
    ? `description is longer than ${MAX_LABEL_DESCRIPTION} characters`
    : null;
}
