import path from 'node:path';

/** Keeps only the last path segment and printable characters: names are labels, never paths. */
export function sanitizeFilename(raw: string | undefined): string {
  // NFC: macOS sends accents decomposed ("e" + U+0301), other systems composed; one name, one string.
  const base = path.posix.basename((raw ?? '').normalize('NFC').replace(/\\/g, '/'));
  const clean = base
    // C0 and C1 controls, and the invisible format characters (bidi overrides such as U+202E turn
    // "invoice\u202Efdp.exe" into "invoiceexe.pdf" on screen).
    // eslint-disable-next-line no-control-regex -- stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, '')
    .trim();
  const name = clean.length > MAX_FILENAME_CHARS ? shorten(clean) : clean;
  return name === '' || name === '.' || name === '..' ? 'upload' : name;
}

const MAX_FILENAME_CHARS = 255;

/** Cuts the stem, not the extension: "notes….md" stays a Markdown name. */
function shorten(name: string): string {
  const ext = path.posix.extname(name);
  const keep = ext.length > 1 && ext.length <= 16 ? ext : '';
  // The cut must not split a surrogate pair (a lone half is stored as U+FFFD).
  return name.slice(0, MAX_FILENAME_CHARS - keep.length).replace(/[\ud800-\udbff]$/, '') + keep;
}

/**
 * A document's name from the URL it came from: the last path segment, decoded, else the host name. Query strings
 * and fragments never become part of a name.
 */
export function filenameFromUrl(url: string): string {
  const parsed = new URL(url);
  const segment = parsed.pathname
    .split('/')
    .filter((s) => s !== '')
    .pop();
  let name = parsed.hostname;
  if (segment !== undefined) {
    try {
      name = decodeURIComponent(segment);
    } catch {
      // A malformed percent-escape: the raw segment is still a usable label.
      name = segment;
    }
  }
  return sanitizeFilename(name);
}
