/** A strict reader of the SVG charts the comparative demo writes, shared by its tests. */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
}

/**
 * A strict parser for the XML subset SVG files use (elements, quoted attributes, text, entities):
 * throws on anything not well-formed, so a chart that parses here parses in any XML reader.
 */
export function parseXml(text: string): XmlElement {
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let at = 0;
  const body = text.trim();
  while (at < body.length) {
    token.lastIndex = at;
    const match = token.exec(body);
    if (!match) throw new Error(`not well-formed at ${at}: ${JSON.stringify(body.slice(at, at + 40))}`);
    at = token.lastIndex;
    const [, closing, name, attributeText, selfClosing, textNode] = match;
    if (textNode !== undefined) {
      if (/&(?!(lt|gt|amp|quot|apos|#\d+);)/.test(textNode)) throw new Error(`a bare & in ${JSON.stringify(textNode)}`);
      if (stack.length === 0 && textNode.trim() !== '') throw new Error('text outside the root element');
      continue;
    }
    if (closing) {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const [, key, value] of attributeText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (key! in attributes) throw new Error(`attribute ${key} twice on <${name}>`);
      if (/&(?!(lt|gt|amp|quot|apos|#\d+);)/.test(value!)) throw new Error(`a bare & in ${key}="${value}"`);
      attributes[key!] = value!;
    }
    const element: XmlElement = { name: name!, attributes, children: [] };
    if (stack.length > 0) stack.at(-1)!.children.push(element);
    else if (root) throw new Error('a second root element');
    else root = element;
    if (!selfClosing) stack.push(element);
  }
  if (stack.length > 0 || !root) throw new Error(`unclosed <${stack.at(-1)?.name}>`);
  return root;
}

export function elements(root: XmlElement, name: string): XmlElement[] {
  return [...(root.name === name ? [root] : []), ...root.children.flatMap((child) => elements(child, name))];
}

