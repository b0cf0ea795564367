import type { Block } from './blocks';
import { type DomDocument, type DomElement, type DomNode, isDocument, isElement, isText } from './dom';

/** Never content: code, styling, embedded media and widgets, form controls, and the page chrome around an article. */
const SKIPPED_TAGS = new Set([
  'head',
  'title',
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'iframe',
  'object',
  'embed',
  'canvas',
  'audio',
  'video',
  'map',
  'input',
  'select',
  'textarea',
  'button',
  'option',
  'optgroup',
  'datalist',
  'nav',
  'aside',
  'dialog',
  'img',
  'link',
  'meta',
  'base',
]);
const SKIPPED_ROLES = new Set([
  'navigation',
  'banner',
  'contentinfo',
  'complementary',
  'dialog',
  'alertdialog',
  'search',
]);
/** A header or footer inside these belongs to the content (an article's byline, a section's closing note). */
const CONTENT_CONTAINERS = new Set(['article', 'main']);
const HEADINGS: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };
/** Elements that end the running paragraph and start a new one; everything else is inline. */
const BLOCK_TAGS = new Set([
  'html',
  'body',
  'div',
  'section',
  'article',
  'main',
  'header',
  'footer',
  'figure',
  'figcaption',
  'address',
  'details',
  'summary',
  'dl',
  'dt',
  'dd',
  'fieldset',
  'legend',
  'form',
  'center',
  'hgroup',
  'caption',
  'li',
  'tr',
  'td',
  'th',
  'hr',
]);
// Stands for a <br> until whitespace has been collapsed; a private-use character no document text carries.
const LINE_BREAK = '\uE000';

/**
 * The content blocks of an HTML document or element, in document order: headings, paragraphs, lists, tables,
 * preformatted code and quotes, with scripts, styles, navigation, sidebars, page headers and footers, hidden
 * elements and form controls left out.
 */
export function htmlToBlocks(root: DomDocument | DomElement): Block[] {
  // Looked up rather than asked for: linkedom's `body` getter grafts a new body into a document that has none.
  const start: DomNode = isDocument(root) ? (root.getElementsByTagName('body')[0] ?? root) : root;
  const walker = new BlockWalker();
  walker.container(start);
  walker.flush();
  return walker.blocks;
}

class BlockWalker {
  readonly blocks: Block[] = [];
  private inline: string[] = [];

  container(element: DomNode): void {
    for (const child of Array.from(element.childNodes)) this.node(child);
  }

  flush(): void {
    const text = inlineText(this.inline.join(''));
    this.inline = [];
    if (text !== '') this.blocks.push({ kind: 'paragraph', text });
  }

  private node(node: DomNode): void {
    if (isText(node)) {
      this.inline.push(node.data);
      return;
    }
    if (!isElement(node) || isSkipped(node)) return;
    const tag = node.localName.toLowerCase();
    const level = HEADINGS[tag];
    if (level !== undefined) {
      this.flush();
      const text = inlineText(collectInline(node)).replace(/\n/g, ' ');
      if (text !== '') this.blocks.push({ kind: 'heading', level, text });
      return;
    }
    switch (tag) {
      case 'br':
        this.inline.push(LINE_BREAK);
        return;
      case 'p':
        this.flush();
        this.container(node);
        this.flush();
        return;
      case 'ul':
      case 'ol':
      case 'menu': {
        this.flush();
        const list = listBlock(node);
        if (list !== null) this.blocks.push(list);
        return;
      }
      case 'table': {
        this.flush();
        const table = tableBlock(node);
        if (table !== null) this.blocks.push(table);
        return;
      }
      case 'pre': {
        this.flush();
        const text = node.textContent ?? '';
        if (text.trim() !== '') this.blocks.push({ kind: 'code', text });
        return;
      }
      case 'blockquote': {
        this.flush();
        const text = blocksAsText(htmlToBlocks(node));
        if (text !== '') this.blocks.push({ kind: 'quote', text });
        return;
      }
    }
    if (BLOCK_TAGS.has(tag)) {
      this.flush();
      this.container(node);
      this.flush();
    } else {
      this.container(node);
    }
  }
}

function isSkipped(element: DomElement): boolean {
  const tag = element.localName.toLowerCase();
  if (SKIPPED_TAGS.has(tag)) return true;
  if (element.hasAttribute('hidden')) return true;
  if (element.getAttribute('aria-hidden')?.trim().toLowerCase() === 'true') return true;
  const role = element.getAttribute('role')?.trim().toLowerCase();
  if (role !== undefined && SKIPPED_ROLES.has(role)) return true;
  if ((tag === 'header' || tag === 'footer') && !insideContent(element)) return true;
  return false;
}

function insideContent(element: DomElement): boolean {
  for (let node = element.parentNode; node !== null; node = node.parentNode) {
    if (isElement(node) && CONTENT_CONTAINERS.has(node.localName.toLowerCase())) return true;
  }
  return false;
}

/** The text of an element's inline content, `<br>` kept as a line break marker, skipped elements left out. */
function collectInline(element: DomElement, exclude?: (child: DomElement) => boolean): string {
  const out: string[] = [];
  const visit = (node: DomNode): void => {
    if (isText(node)) {
      out.push(node.data);
      return;
    }
    if (!isElement(node) || isSkipped(node) || exclude?.(node) === true) return;
    const tag = node.localName.toLowerCase();
    if (tag === 'br') {
      out.push(LINE_BREAK);
      return;
    }
    const block = BLOCK_TAGS.has(tag) || tag === 'p' || tag in HEADINGS;
    // Block children of an inline context (a <p> inside a list item or a cell) still read as separate words.
    if (block) out.push(' ');
    for (const child of Array.from(node.childNodes)) visit(child);
    if (block) out.push(' ');
  };
  for (const child of Array.from(element.childNodes)) visit(child);
  return out.join('');
}

/** Source whitespace (line breaks included) is one space, as a browser shows it; `<br>` becomes a line break. */
function inlineText(raw: string): string {
  return raw
    .replace(/\0/g, '')
    .replace(/\s+/g, ' ')
    .split(LINE_BREAK)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join('\n');
}

const isList = (element: DomElement): boolean =>
  ['ul', 'ol', 'menu'].includes(element.localName.toLowerCase());

function listBlock(list: DomElement): Block | null {
  const items: string[] = [];
  const levels: number[] = [];
  const walk = (element: DomElement, level: number): void => {
    for (const child of Array.from(element.childNodes)) {
      if (!isElement(child) || isSkipped(child)) continue;
      const tag = child.localName.toLowerCase();
      if (tag === 'li') {
        const text = inlineText(collectInline(child, isList));
        if (text !== '') {
          items.push(text);
          levels.push(level);
        }
        for (const nested of Array.from(child.childNodes)) {
          if (isElement(nested) && isList(nested) && !isSkipped(nested))
            walk(nested, text === '' ? level : level + 1);
        }
      } else if (isList(child)) {
        walk(child, level + 1);
      }
    }
  };
  walk(list, 0);
  if (items.length === 0) return null;
  const ordered = list.localName.toLowerCase() === 'ol';
  return levels.some((l) => l > 0)
    ? { kind: 'list', items, ordered, levels }
    : { kind: 'list', items, ordered };
}

function tableBlock(table: DomElement): Block | null {
  const rows: string[][] = [];
  let header = false;
  const addRow = (tr: DomElement, inHead: boolean): void => {
    const cells: string[] = [];
    let allHeaderCells = true;
    for (const cell of Array.from(tr.childNodes)) {
      if (!isElement(cell) || isSkipped(cell)) continue;
      const tag = cell.localName.toLowerCase();
      if (tag !== 'td' && tag !== 'th') continue;
      if (tag === 'td') allHeaderCells = false;
      cells.push(inlineText(collectInline(cell)).replace(/\n/g, ' '));
    }
    if (cells.every((c) => c === '')) return;
    if (rows.length === 0 && cells.length > 0 && (inHead || allHeaderCells)) header = true;
    // Only the first header row names the columns; a second one (a units row) is data.
    rows.push(cells);
  };
  for (const child of Array.from(table.childNodes)) {
    if (!isElement(child) || isSkipped(child)) continue;
    const tag = child.localName.toLowerCase();
    if (tag === 'tr') addRow(child, false);
    else if (tag === 'thead' || tag === 'tbody' || tag === 'tfoot') {
      for (const tr of Array.from(child.childNodes)) {
        if (isElement(tr) && !isSkipped(tr) && tr.localName.toLowerCase() === 'tr')
          addRow(tr, tag === 'thead');
      }
    }
  }
  if (rows.length === 0) return null;
  return header ? { kind: 'table', rows, header } : { kind: 'table', rows };
}

/** A block's text for nesting inside another block (a quote's paragraphs, lists and headings). */
function blocksAsText(blocks: Block[]): string {
  return blocks
    .map((block) => {
      switch (block.kind) {
        case 'list':
          return block.items.join('\n');
        case 'table':
          return block.rows.map((row) => row.join(' | ')).join('\n');
        default:
          return block.text;
      }
    })
    .filter((text) => text !== '')
    .join('\n');
}
