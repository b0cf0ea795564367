import { DOMParser, parseHTML } from 'linkedom';

/*
 * The slice of the DOM the parsers use, typed here because the workspace compiles without the DOM lib (it is server
 * code): linkedom's own declarations lean on the DOM lib's globals, which then resolve to nothing.
 */

export const ELEMENT_NODE = 1;
export const TEXT_NODE = 3;
export const CDATA_SECTION_NODE = 4;
export const DOCUMENT_NODE = 9;

export interface DomNode {
  readonly nodeType: number;
  readonly childNodes: ArrayLike<DomNode>;
  readonly parentNode: DomNode | null;
  textContent: string | null;
}

export interface DomElement extends DomNode {
  readonly localName: string;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  getElementsByTagName(name: string): ArrayLike<DomElement>;
  closest(selector: string): DomElement | null;
  remove(): void;
  innerHTML: string;
}

export interface DomText extends DomNode {
  data: string;
}

export interface DomDocument extends DomNode {
  readonly documentElement: DomElement | null;
  readonly body: DomElement | null;
  readonly title: string;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  getElementsByTagName(name: string): ArrayLike<DomElement>;
  createElement(name: string): DomElement;
}

export const isElement = (node: DomNode): node is DomElement => node.nodeType === ELEMENT_NODE;
export const isDocument = (node: DomNode): node is DomDocument => node.nodeType === DOCUMENT_NODE;
export const isText = (node: DomNode): node is DomText =>
  node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE;

/**
 * An HTML document as a browser would build it (HTML parsing rules, entities decoded). A fragment (an e-mail's HTML
 * part, a converter's output) is put in a body first: linkedom builds no <html> around one, and asking its document
 * for a body then grafts a new one into the first element.
 */
export function parseHtmlDocument(html: string): DomDocument {
  const document = (parseHTML(html) as unknown as { document: DomDocument }).document;
  if (document.documentElement?.localName.toLowerCase() === 'html') return document;
  return (
    parseHTML(`<!doctype html><html><head></head><body>${html}</body></html>`) as unknown as {
      document: DomDocument;
    }
  ).document;
}

/**
 * An XHTML document parsed as XML, so `<a id="x"/>` closes itself (HTML rules would swallow the rest of the
 * paragraph into the link). HTML's named entities (`&nbsp;`, `&eacute;`), which EPUB content documents use under
 * the XHTML DTD, are decoded afterwards through the HTML parser, since the XML parser knows only XML's five.
 */
export function parseXhtmlDocument(xhtml: string): DomDocument {
  const document = new DOMParser().parseFromString(xhtml, 'text/xml') as unknown as DomDocument;
  decodeHtmlEntitiesInText(document);
  return document;
}

function decodeHtmlEntitiesInText(document: DomDocument): void {
  let decoder: DomElement | undefined;
  const visit = (node: DomNode): void => {
    if (isText(node)) {
      if (node.data.includes('&')) {
        decoder ??= parseHtmlDocument('<!doctype html><html><body><div></div></body></html>').querySelector(
          'div',
        )!;
        // The text is already XML-decoded: a literal `<` in it must not become markup.
        decoder.innerHTML = node.data.replace(/</g, '&lt;');
        node.data = decoder.textContent ?? node.data;
      }
      return;
    }
    for (const child of Array.from(node.childNodes)) visit(child);
  };
  visit(document);
}
