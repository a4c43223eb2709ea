/**
 * The YAML this project reads and writes for ml-l3m: block mappings, block sequences
 * (`- item`, including `- key: value` items), flow sequences (`[a, b]`), plain and quoted
 * scalars, `#` comments and empty values (null). That is all ml-l3m's experiment configs use;
 * anything else (anchors, tags, multi-line strings, flow mappings) is refused with the line
 * it is on, rather than read wrongly.
 *
 * Scalars are typed as OmegaConf reads them (PyYAML's YAML 1.1 resolver plus OmegaConf's
 * float rule): `true`/`false`, integers with `_` separators (`125_000`), floats with or without
 * a dot (`1e-3`, `1e-08`), the empty value and `null`/`~` as null; the rest are strings.
 * `${a.b}` interpolations are kept as strings; `resolveInterpolations` resolves them.
 */

export type YamlValue = null | boolean | number | string | YamlFloat | YamlValue[] | YamlMap;

/**
 * A number Python must read as a float even when it is whole (`1.0`, not `1`): what the
 * emitter writes for a config's float fields. Parsing gives plain numbers back.
 */
export class YamlFloat {
  constructor(readonly value: number) {}
}

/** `value` written as a float. */
export const float = (value: number) => new YamlFloat(value);
export interface YamlMap {
  [key: string]: YamlValue;
}

export class YamlError extends Error {
  override readonly name = 'YamlError';
}

interface Line {
  indent: number;
  text: string;
  number: number;
}

/** Drops a `#` comment that is not inside quotes (a `#` must follow a space to start one). */
function stripComment(text: string): string {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '#' && (i === 0 || text[i - 1] === ' ')) return text.slice(0, i);
  }
  return text;
}

function splitLines(source: string): Line[] {
  const lines: Line[] = [];
  source.split(/\r?\n/).forEach((raw, i) => {
    if (raw.includes('\t')) throw new YamlError(`line ${i + 1}: tabs are not allowed in YAML`);
    const text = stripComment(raw).trimEnd();
    if (!text.trim()) return;
    if (text.trim() === '---') return;
    const indent = text.length - text.trimStart().length;
    lines.push({ indent, text: text.trimStart(), number: i + 1 });
  });
  return lines;
}

const INT = /^[-+]?(0|[1-9][0-9_]*)$/;
const FLOAT = /^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?$/;

/** One plain or quoted scalar, typed as OmegaConf types it. */
export function parseScalar(raw: string, where = 'value'): YamlValue {
  const text = raw.trim();
  if (text === '' || text === '~' || text === 'null' || text === 'Null' || text === 'NULL')
    return null;
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new YamlError(`${where}: unterminated quote`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new YamlError(`${where}: unterminated quote`);
    return JSON.parse(text) as string;
  }
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (INT.test(text)) return Number(text.replace(/_/g, ''));
  if (/\d/.test(text) && FLOAT.test(text) && /[.eE]/.test(text))
    return Number(text.replace(/_/g, ''));
  if (/^[&*!|>]/.test(text))
    throw new YamlError(`${where}: anchors, tags and block scalars are not supported`);
  return text;
}

/** `[a, b, [c]]` → array (elements are scalars or nested flow sequences). */
function parseFlow(text: string, where: string): YamlValue[] {
  let pos = 0;
  const parseList = (): YamlValue[] => {
    if (text[pos] !== '[') throw new YamlError(`${where}: expected [`);
    pos++;
    const items: YamlValue[] = [];
    let current = '';
    let nested: YamlValue[] | null = null;
    const push = () => {
      if (nested) items.push(nested);
      else if (current.trim() !== '' || items.length > 0) items.push(parseScalar(current, where));
      current = '';
      nested = null;
    };
    while (pos < text.length) {
      const ch = text[pos];
      if (ch === '[') nested = parseList();
      else if (ch === ']') {
        pos++;
        if (current.trim() !== '' || nested) push();
        return items;
      } else if (ch === ',') {
        push();
        pos++;
      } else {
        if (ch === '{') throw new YamlError(`${where}: flow mappings are not supported`);
        current += ch;
        pos++;
      }
    }
    throw new YamlError(`${where}: unterminated [`);
  };
  const result = parseList();
  if (text.slice(pos).trim() !== '') throw new YamlError(`${where}: text after ]`);
  return result;
}

function parseInline(text: string, where: string): YamlValue {
  return text.trim().startsWith('[') ? parseFlow(text.trim(), where) : parseScalar(text, where);
}

/** The `key: rest` split of a mapping line, or null when the line is not one. */
function splitKey(text: string): [string, string] | null {
  const match = /^('(?:[^']|'')*'|"[^"]*"|[^'"\s][^:]*?)\s*:(?:\s+(.*))?$/.exec(text);
  if (!match) return null;
  const key = parseScalar(match[1]);
  return [String(key), match[2] ?? ''];
}

class Parser {
  private index = 0;
  constructor(private readonly lines: Line[]) {}

  parseDocument(): YamlValue {
    if (this.lines.length === 0) return null;
    const value = this.parseBlock(this.lines[0].indent);
    if (this.index < this.lines.length) {
      const line = this.lines[this.index];
      throw new YamlError(`line ${line.number}: unexpected indentation`);
    }
    return value;
  }

  private parseBlock(indent: number): YamlValue {
    const first = this.lines[this.index];
    if (first.text === '-' || first.text.startsWith('- ')) return this.parseSequence(indent);
    return this.parseMapping(indent);
  }

  /** The value after `key:` — inline, or the more-indented block on the following lines. */
  private valueAfter(rest: string, indent: number, where: string, allowSameIndentSeq: boolean) {
    if (rest.trim() !== '') return parseInline(rest, where);
    const next = this.lines[this.index];
    if (!next) return null;
    if (next.indent > indent) return this.parseBlock(next.indent);
    // PyYAML accepts a sequence at the key's own indentation as the key's value.
    if (allowSameIndentSeq && next.indent === indent && /^-( |$)/.test(next.text))
      return this.parseSequence(indent);
    return null;
  }

  private parseMapping(indent: number): YamlMap {
    const map: YamlMap = {};
    while (this.index < this.lines.length) {
      const line = this.lines[this.index];
      if (line.indent < indent) break;
      if (line.indent > indent) throw new YamlError(`line ${line.number}: unexpected indentation`);
      if (/^-( |$)/.test(line.text)) break;
      const kv = splitKey(line.text);
      if (!kv) throw new YamlError(`line ${line.number}: expected "key: value"`);
      const [key, rest] = kv;
      if (Object.hasOwn(map, key)) throw new YamlError(`line ${line.number}: duplicate key ${key}`);
      this.index++;
      map[key] = this.valueAfter(rest, indent, `line ${line.number}`, true);
    }
    return map;
  }

  private parseSequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    while (this.index < this.lines.length) {
      const line = this.lines[this.index];
      if (line.indent !== indent || !/^-( |$)/.test(line.text)) {
        if (line.indent > indent)
          throw new YamlError(`line ${line.number}: unexpected indentation`);
        break;
      }
      const rest = line.text.slice(1);
      const where = `line ${line.number}`;
      if (rest.trim() === '') {
        this.index++;
        items.push(this.valueAfter('', indent, where, false));
        continue;
      }
      const itemIndent = indent + 1 + (rest.length - rest.trimStart().length);
      const content = rest.trimStart();
      if (!content.startsWith('[') && splitKey(content)) {
        // `- key: value` starts a mapping whose keys sit at the column after "- ".
        this.lines[this.index] = { indent: itemIndent, text: content, number: line.number };
        items.push(this.parseMapping(itemIndent));
      } else {
        this.index++;
        items.push(parseInline(content, where));
      }
    }
    return items;
  }
}

export function parseYaml(source: string): YamlValue {
  return new Parser(splitLines(source)).parseDocument();
}

function isMap(v: YamlValue): v is YamlMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof YamlFloat);
}

const PLAIN_SAFE = /^[A-Za-z_/.$][A-Za-z0-9_./${}*:-]*$/;

/** A scalar as YAML text that parses back to the same value. */
export function emitScalar(v: null | boolean | number | string | YamlFloat): string {
  if (v === null) return '';
  if (v instanceof YamlFloat) {
    const text = emitScalar(v.value);
    return /^-?\d+$/.test(text) ? `${text}.0` : text;
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new YamlError(`cannot write ${v} to YAML`);
    // String() gives 1e-8, 0.05, 125000: tokens parseScalar (and OmegaConf) read back exactly.
    return String(v);
  }
  const reparsed = PLAIN_SAFE.test(v) && !v.includes(': ') ? parseScalar(v) : undefined;
  if (reparsed === v) return v;
  return `'${v.replace(/'/g, "''")}'`;
}

function isFlowable(list: YamlValue[]): boolean {
  return list.every((x) => !isMap(x) && !Array.isArray(x));
}

function emitValue(value: YamlValue, indent: number, out: string[], prefix: string): void {
  const pad = ' '.repeat(indent);
  if (isMap(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) {
      out.push(`${prefix}{}`);
      return;
    }
    keys.forEach((key) => {
      const v = value[key];
      const head = `${pad}${emitScalar(key)}:`;
      if (isMap(v) && Object.keys(v).length > 0) {
        out.push(head);
        emitValue(v, indent + 2, out, '');
      } else if (Array.isArray(v) && !isFlowable(v)) {
        out.push(head);
        emitValue(v, indent, out, '');
      } else {
        const inline = inlineText(v);
        out.push(inline === '' ? head : `${head} ${inline}`);
      }
    });
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isMap(item) && Object.keys(item).length > 0) {
        const inner: string[] = [];
        emitValue(item, indent + 2, inner, '');
        inner[0] = `${pad}- ${inner[0].trimStart()}`;
        out.push(...inner);
      } else out.push(`${pad}- ${inlineText(item)}`);
    }
    return;
  }
  out.push(`${pad}${inlineText(value)}`);
}

function inlineText(v: YamlValue): string {
  if (Array.isArray(v)) return `[${v.map(inlineText).join(', ')}]`;
  if (isMap(v)) {
    if (Object.keys(v).length === 0) return '{}';
    throw new YamlError('a non-empty mapping cannot be written inline');
  }
  return emitScalar(v);
}

/**
 * YAML text for `value` (a mapping at the top), two-space indents, flow style for lists of
 * scalars. `comments` puts `# …` lines before the top-level keys they name.
 */
export function emitYaml(value: YamlMap, comments: Record<string, string[]> = {}): string {
  const out: string[] = [];
  for (const key of Object.keys(value)) {
    for (const line of comments[key] ?? []) out.push(line ? `# ${line}` : '#');
    emitValue({ [key]: value[key] }, 0, out, '');
  }
  return `${out.join('\n')}\n`;
}

const WHOLE = /^\$\{([^${}]+)\}$/;
const PART = /\$\{([^${}]+)\}/g;

function lookup(root: YamlMap, path: string): YamlValue {
  let node: YamlValue = root;
  for (const part of path.trim().split('.')) {
    if (isMap(node) && Object.hasOwn(node, part)) node = node[part];
    else if (Array.isArray(node) && /^\d+$/.test(part) && Number(part) < node.length)
      node = node[Number(part)];
    else throw new YamlError(`interpolation \${${path}}: no such key`);
  }
  return node;
}

/**
 * A copy of `root` with every `${a.b.c}` replaced by the value it names (absolute paths, as
 * OmegaConf resolves them): a string that is one interpolation becomes that value (a mapping or
 * list too); interpolations inside longer strings are replaced by their text. Cycles and
 * missing keys are errors.
 */
export function resolveInterpolations(root: YamlMap): YamlMap {
  const resolving = new Set<string>();
  const resolveAt = (path: string): YamlValue => {
    if (resolving.has(path)) throw new YamlError(`interpolation cycle through \${${path}}`);
    resolving.add(path);
    try {
      return resolve(lookup(root, path));
    } finally {
      resolving.delete(path);
    }
  };
  const resolve = (v: YamlValue): YamlValue => {
    if (typeof v === 'string') {
      const whole = WHOLE.exec(v);
      if (whole) return resolveAt(whole[1]);
      if (!v.includes('${')) return v;
      return v.replace(PART, (_, path: string) => {
        const r = resolveAt(path);
        if (isMap(r) || Array.isArray(r))
          throw new YamlError(`\${${path}} is a mapping or list inside a string`);
        return r === null ? 'None' : String(r);
      });
    }
    if (Array.isArray(v)) return v.map(resolve);
    if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    return v;
  };
  return resolve(root) as YamlMap;
}

/** Dotted paths where `a` and `b` differ (values compared exactly), for tests and messages. */
export function yamlDifferences(a: YamlValue, b: YamlValue, path = ''): string[] {
  if (isMap(a) && isMap(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => {
      const p = path ? `${path}.${k}` : k;
      if (!Object.hasOwn(a, k)) return [`${p}: missing on the left`];
      if (!Object.hasOwn(b, k)) return [`${p}: missing on the right`];
      return yamlDifferences(a[k], b[k], p);
    });
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path}: ${a.length} items vs ${b.length}`];
    return a.flatMap((x, i) => yamlDifferences(x, b[i], `${path}.${i}`));
  }
  return Object.is(a, b) ? [] : [`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
}
