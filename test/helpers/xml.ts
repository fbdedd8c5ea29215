// A strict, minimal XML 1.0 parser for tests: a recursive-descent well-formedness check that
// also returns the element tree. No DTDs (a DOCTYPE is rejected), so only the five predefined
// entities and character references are allowed. Throws an Error naming the offset on any
// violation: illegal characters, bad names, unquoted or duplicate attributes, `<` or a bare `&`
// in attribute values, `]]>` in text, `--` in comments, mismatched or unclosed tags, anything
// but comments, PIs and whitespace around the single root element.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

const NAME_START = /[:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}]/u;
const NAME_CHAR = /[-.0-9\u00B7\u0300-\u036F\u203F-\u2040:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}]/u;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    const line = this.s.slice(0, this.i).split('\n').length;
    throw new Error(`XML not well-formed at offset ${this.i} (line ${line}): ${what}; near ${JSON.stringify(this.s.slice(this.i, this.i + 40))}`);
  }

  private starts(t: string): boolean {
    return this.s.startsWith(t, this.i);
  }

  private expect(t: string): void {
    if (!this.starts(t)) this.fail(`expected ${JSON.stringify(t)}`);
    this.i += t.length;
  }

  private ws(required = false): boolean {
    const start = this.i;
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i]!)) this.i++;
    if (required && this.i === start) this.fail('expected whitespace');
    return this.i > start;
  }

  private name(): string {
    const start = this.i;
    const first = this.s.codePointAt(this.i);
    if (first === undefined || !NAME_START.test(String.fromCodePoint(first))) this.fail('expected a name');
    this.i += first > 0xffff ? 2 : 1;
    for (;;) {
      const cp = this.s.codePointAt(this.i);
      if (cp === undefined || !NAME_CHAR.test(String.fromCodePoint(cp))) break;
      this.i += cp > 0xffff ? 2 : 1;
    }
    return this.s.slice(start, this.i);
  }

  /** `&...;` at the cursor: the character(s) it stands for. */
  private reference(): string {
    this.expect('&');
    let value: string;
    if (this.starts('#x')) {
      this.i += 2;
      const m = /^[0-9a-fA-F]+/.exec(this.s.slice(this.i));
      if (!m) this.fail('bad hexadecimal character reference');
      this.i += m[0].length;
      value = this.charFromRef(parseInt(m[0], 16));
    } else if (this.starts('#')) {
      this.i += 1;
      const m = /^[0-9]+/.exec(this.s.slice(this.i));
      if (!m) this.fail('bad decimal character reference');
      this.i += m[0].length;
      value = this.charFromRef(parseInt(m[0], 10));
    } else {
      const n = this.name();
      if (!(n in PREDEFINED)) this.fail(`undefined entity &${n};`);
      value = PREDEFINED[n]!;
    }
    this.expect(';');
    return value;
  }

  private charFromRef(cp: number): string {
    if (!isXmlChar(cp)) this.fail(`character reference to an illegal character U+${cp.toString(16)}`);
    return String.fromCodePoint(cp);
  }

  private comment(): void {
    this.expect('<!--');
    const end = this.s.indexOf('--', this.i);
    if (end < 0) this.fail('unterminated comment');
    if (this.s[end + 2] !== '>') {
      this.i = end;
      this.fail('"--" inside a comment');
    }
    this.i = end + 3;
  }

  private pi(): void {
    this.expect('<?');
    const target = this.name();
    if (target.toLowerCase() === 'xml') this.fail('XML declaration not at the start of the document');
    if (!this.starts('?>')) {
      this.ws(true);
      const end = this.s.indexOf('?>', this.i);
      if (end < 0) this.fail('unterminated processing instruction');
      this.i = end;
    }
    this.expect('?>');
  }

  private misc(): void {
    for (;;) {
      this.ws();
      if (this.starts('<!--')) this.comment();
      else if (this.starts('<?')) this.pi();
      else return;
    }
  }

  private xmlDecl(): void {
    if (!this.starts('<?xml')) return;
    const c = this.s[this.i + 5];
    if (c !== undefined && !' \t\r\n'.includes(c)) return; // a PI named xml-something
    this.i += 5;
    const attrs: string[] = [];
    for (;;) {
      const hadWs = this.ws();
      if (this.starts('?>')) break;
      if (!hadWs) this.fail('expected whitespace in the XML declaration');
      const n = this.name();
      this.ws();
      this.expect('=');
      this.ws();
      const q = this.s[this.i];
      if (q !== '"' && q !== "'") this.fail('unquoted pseudo-attribute');
      const end = this.s.indexOf(q, this.i + 1);
      if (end < 0) this.fail('unterminated pseudo-attribute');
      const v = this.s.slice(this.i + 1, end);
      this.i = end + 1;
      if (n === 'version' && !/^1\.[0-9]+$/.test(v)) this.fail(`bad version ${v}`);
      if (n === 'encoding' && !/^[A-Za-z][A-Za-z0-9._-]*$/.test(v)) this.fail(`bad encoding ${v}`);
      if (n === 'standalone' && v !== 'yes' && v !== 'no') this.fail(`bad standalone ${v}`);
      attrs.push(n);
    }
    const order = ['version', 'encoding', 'standalone'];
    if (attrs[0] !== 'version') this.fail('the XML declaration must start with version');
    if (attrs.some((a, k) => !order.includes(a) || (k > 0 && order.indexOf(a) <= order.indexOf(attrs[k - 1]!)))) {
      this.fail('bad pseudo-attributes in the XML declaration');
    }
    this.expect('?>');
  }

  private attrValue(): string {
    const q = this.s[this.i];
    if (q !== '"' && q !== "'") this.fail('attribute value must be quoted');
    this.i++;
    let v = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated attribute value');
      if (c === q) break;
      if (c === '<') this.fail('"<" in an attribute value');
      if (c === '&') v += this.reference();
      else {
        v += c === '\t' || c === '\n' || c === '\r' ? ' ' : c; // attribute-value normalisation
        this.i++;
      }
    }
    this.i++;
    return v;
  }

  element(): XmlElement {
    this.expect('<');
    const name = this.name();
    const attrs: Record<string, string> = {};
    for (;;) {
      const hadWs = this.ws();
      if (this.starts('/>')) {
        this.i += 2;
        return { name, attrs, children: [] };
      }
      if (this.starts('>')) {
        this.i += 1;
        break;
      }
      if (!hadWs) this.fail('expected whitespace before an attribute');
      const an = this.name();
      if (Object.hasOwn(attrs, an)) this.fail(`duplicate attribute ${an}`);
      this.ws();
      this.expect('=');
      this.ws();
      attrs[an] = this.attrValue();
    }
    const children: XmlNode[] = [];
    let text = '';
    const flush = (): void => {
      if (text) children.push(text);
      text = '';
    };
    for (;;) {
      if (this.i >= this.s.length) this.fail(`unclosed element <${name}>`);
      if (this.starts('</')) {
        this.i += 2;
        const end = this.name();
        if (end !== name) this.fail(`</${end}> closes <${name}>`);
        this.ws();
        this.expect('>');
        flush();
        return { name, attrs, children };
      }
      if (this.starts('<!--')) this.comment();
      else if (this.starts('<![CDATA[')) {
        const end = this.s.indexOf(']]>', this.i + 9);
        if (end < 0) this.fail('unterminated CDATA section');
        text += this.s.slice(this.i + 9, end);
        this.i = end + 3;
      } else if (this.starts('<?')) this.pi();
      else if (this.starts('<')) {
        flush();
        children.push(this.element());
      } else if (this.starts('&')) text += this.reference();
      else {
        if (this.starts(']]>')) this.fail('"]]>" in text');
        text += this.s[this.i];
        this.i++;
      }
    }
  }

  document(): XmlElement {
    // Every character of the document must be one XML 1.0 allows.
    for (let k = 0; k < this.s.length; k++) {
      const cp = this.s.codePointAt(k)!;
      if (!isXmlChar(cp) || (cp >= 0xd800 && cp <= 0xdfff)) {
        this.i = k;
        this.fail(`illegal character U+${cp.toString(16).padStart(4, '0')}`);
      }
      if (cp > 0xffff) k++;
    }
    if (this.s.startsWith('\uFEFF')) this.i = 1;
    this.xmlDecl();
    this.misc();
    if (this.starts('<!DOCTYPE')) this.fail('DOCTYPE is not supported');
    if (!this.starts('<')) this.fail('expected the root element');
    const root = this.element();
    this.misc();
    if (this.i !== this.s.length) this.fail('content after the root element');
    return root;
  }
}

/** Parse a whole document (line ends normalised to LF first, as XML requires); throws if not well-formed. */
export function parseXml(text: string): XmlElement {
  return new Parser(text.replace(/\r\n?/g, '\n')).document();
}

/** All descendant elements (and the element itself) with this name, in document order. */
export function elementsNamed(el: XmlElement, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (e.name === name) found.push(e);
    for (const c of e.children) if (typeof c !== 'string') walk(c);
  };
  walk(el);
  return found;
}

/** Direct children with this name. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string' && c.name === name);
}

/** The concatenated text of an element and its descendants. */
export function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}
