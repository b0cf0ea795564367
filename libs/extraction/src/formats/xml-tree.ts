import { type SaxesAttributeNS, SaxesParser } from 'saxes';

/** An element of a small XML part (a package manifest, a TOC, document properties), namespaces resolved. */
export interface XmlElement {
  uri: string;
  local: string;
  /** Attribute values by qualified name as written (`full-path`, `opf:role`). */
  attributes: Map<string, string>;
  children: XmlElement[];
  /** The element's own text, its children's left out. */
  text: string;
}

/**
 * Parses a small XML document into a tree with saxes, a conforming parser that reads no DTD and expands no entity
 * of one (an entity bomb stays inert). Throws on XML that is not well-formed.
 */
export function parseXmlTree(xml: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  parser.on('opentag', (tag) => {
    const attributes = new Map<string, string>();
    for (const attribute of Object.values(tag.attributes as Record<string, SaxesAttributeNS>)) {
      attributes.set(attribute.name, attribute.value);
    }
    const element: XmlElement = {
      uri: tag.uri ?? '',
      local: tag.local ?? tag.name,
      attributes,
      children: [],
      text: '',
    };
    stack.at(-1)?.children.push(element);
    root ??= element;
    stack.push(element);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const onText = (text: string): void => {
    const current = stack.at(-1);
    if (current !== undefined) current.text += text;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.write(xml.replace(/^\uFEFF/, '')).close();
  if (root === null) throw new Error('The XML document has no root element');
  return root;
}

/** Elements below `element` (at any depth) with this namespace and local name, in document order. */
export function findAll(element: XmlElement, uri: string | null, local: string): XmlElement[] {
  const found: XmlElement[] = [];
  const visit = (node: XmlElement): void => {
    for (const child of node.children) {
      if (child.local === local && (uri === null || child.uri === uri)) found.push(child);
      visit(child);
    }
  };
  visit(element);
  return found;
}

export function findFirst(element: XmlElement, uri: string | null, local: string): XmlElement | undefined {
  return findAll(element, uri, local)[0];
}

/** All the text under an element, its children's included. */
export function deepText(element: XmlElement): string {
  return element.text + element.children.map(deepText).join('');
}

export const DC_NS = 'http://purl.org/dc/elements/1.1/';
