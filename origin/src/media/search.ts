/**
 * ImageKit's `searchQuery` (list and search API), the subset that applies to this library:
 *
 *   query     := or
 *   or        := and ("OR" and)*
 *   and       := unary ("AND" unary)*
 *   unary     := "(" query ")" | condition
 *   condition := field op value
 *   op        := "=" | ":" | "IN" | "NOT =" | "NOT :" | "NOT IN" | ">" | ">=" | "<" | "<="
 *   value     := "string" | bare-word | number | "[" value ("," value)* "]"
 *
 * Fields: name (":" = begins with, case-sensitive), tags, type (file | folder), fileType, mime,
 * format (extension-like: jpg, png, …), size (bytes or "1mb"/"500kb"), width, height,
 * createdAt / updatedAt (ISO 8601 or relative "7d", "1h", "2w", "3m", "1y" — in the past),
 * private / published (true | false), customMetadata.<key>. Field names may be quoted.
 * Anything else is a 400 naming the problem. Pure: no I/O.
 */
import { badRequest } from '../../../shared/errors.js';

export type Value = string | number | boolean;
interface Cond {
  kind: 'cond';
  field: string;
  op: '=' | ':' | 'IN' | '>' | '>=' | '<' | '<=';
  not: boolean;
  value: Value | Value[];
}
type Node = Cond | { kind: 'and' | 'or'; left: Node; right: Node };

/** What a condition can ask of an item (a file record or a folder). */
export interface Searchable {
  type: 'file' | 'folder';
  name: string;
  tags?: string[] | null;
  fileType?: string;
  mime?: string;
  size?: number;
  width?: number;
  height?: number;
  createdAt?: string;
  updatedAt?: string;
  isPrivateFile?: boolean;
  isPublished?: boolean;
  customMetadata?: Record<string, unknown>;
}

type Token = { t: 'str' | 'word' | 'op' | 'punct'; v: string };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '"' || ch === "'") {
      let j = i + 1;
      let s = '';
      while (j < q.length && q[j] !== ch) {
        if (q[j] === '\\' && j + 1 < q.length) j++;
        s += q[j];
        j++;
      }
      if (j >= q.length) throw badRequest('searchQuery: unterminated string');
      out.push({ t: 'str', v: s });
      i = j + 1;
    } else if ('()[],'.includes(ch)) {
      out.push({ t: 'punct', v: ch });
      i++;
    } else if ('<>='.includes(ch) || ch === ':') {
      const two = q.slice(i, i + 2);
      if (two === '>=' || two === '<=') {
        out.push({ t: 'op', v: two });
        i += 2;
      } else {
        out.push({ t: 'op', v: ch });
        i++;
      }
    } else {
      const m = /^[^\s()[\],<>=:"']+/.exec(q.slice(i));
      if (!m) throw badRequest(`searchQuery: unexpected "${ch}"`);
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

export function parseSearchQuery(q: string): Node {
  if (q.length > 2000) throw badRequest('searchQuery: longer than 2000 characters');
  const toks = tokenize(q);
  let pos = 0;
  const peek = () => toks[pos];
  const isWord = (w: string) => peek()?.t === 'word' && peek()!.v.toUpperCase() === w;
  const expect = (v: string) => {
    if (peek()?.v !== v) throw badRequest(`searchQuery: expected "${v}"`);
    pos++;
  };
  let depth = 0;
  const value = (): Value => {
    const tok = toks[pos++];
    if (!tok || (tok.t !== 'str' && tok.t !== 'word')) throw badRequest('searchQuery: expected a value');
    if (tok.t === 'str') return tok.v;
    if (/^-?\d+(\.\d+)?$/.test(tok.v)) return Number(tok.v);
    if (tok.v === 'true' || tok.v === 'false') return tok.v === 'true';
    return tok.v;
  };
  const condition = (): Cond => {
    const f = toks[pos++];
    if (!f || (f.t !== 'str' && f.t !== 'word')) throw badRequest('searchQuery: expected a field name');
    let not = false;
    if (isWord('NOT')) {
      not = true;
      pos++;
    }
    let op: Cond['op'];
    if (isWord('IN')) {
      pos++;
      op = 'IN';
    } else if (peek()?.t === 'op') op = toks[pos++]!.v as Cond['op'];
    else throw badRequest(`searchQuery: expected an operator after "${f.v}"`);
    let v: Value | Value[];
    if (op === 'IN') {
      expect('[');
      const list: Value[] = [];
      while (peek()?.v !== ']') {
        list.push(value());
        if (peek()?.v === ',') pos++;
        else if (peek()?.v !== ']') throw badRequest('searchQuery: expected "," or "]"');
      }
      expect(']');
      v = list;
    } else v = value();
    if (not && !['=', ':', 'IN'].includes(op)) throw badRequest('searchQuery: NOT goes with =, : or IN');
    return { kind: 'cond', field: f.v, op, not, value: v };
  };
  const unary = (): Node => {
    if (peek()?.v === '(') {
      if (++depth > 20) throw badRequest('searchQuery: nested too deeply');
      pos++;
      const n = or();
      expect(')');
      depth--;
      return n;
    }
    return condition();
  };
  const and = (): Node => {
    let n = unary();
    while (isWord('AND')) {
      pos++;
      n = { kind: 'and', left: n, right: unary() };
    }
    return n;
  };
  const or = (): Node => {
    let n = and();
    while (isWord('OR')) {
      pos++;
      n = { kind: 'or', left: n, right: and() };
    }
    return n;
  };
  if (toks.length === 0) throw badRequest('searchQuery is empty');
  const root = or();
  if (pos !== toks.length) throw badRequest(`searchQuery: unexpected "${toks[pos]!.v}"`);
  validate(root);
  return root;
}

const FIELDS = new Set(['name', 'tags', 'type', 'fileType', 'mime', 'format', 'size', 'width', 'height', 'createdAt', 'updatedAt', 'private', 'published']);
function validate(n: Node): void {
  if (n.kind !== 'cond') {
    validate(n.left);
    validate(n.right);
    return;
  }
  if (!FIELDS.has(n.field) && !/^customMetadata\.[^.]+$/.test(n.field)) throw badRequest(`searchQuery: field "${n.field}" is not searchable here`);
  if (['size', 'width', 'height', 'createdAt', 'updatedAt'].includes(n.field)) {
    if (n.op === ':' || n.op === 'IN') throw badRequest(`searchQuery: "${n.field}" takes =, >, >=, < or <=`);
    n.value = n.field === 'size' ? bytes(n.value as Value) : n.field.endsWith('At') ? when(n.value as Value) : Number(n.value);
    if (Number.isNaN(n.value)) throw badRequest(`searchQuery: bad value for "${n.field}"`);
  }
}

function bytes(v: Value): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(String(v));
  if (!m) return NaN;
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Number(m[1]) * mult;
}

/** ISO date/time (UTC when no zone) or a relative unit in the past → ms. */
function when(v: Value, now = Date.now()): number {
  const s = String(v);
  const rel = /^(\d+)([hdwmy])$/.exec(s);
  if (rel) {
    const n = Number(rel[1]);
    const unit = { h: 3600e3, d: 86400e3, w: 7 * 86400e3, m: 30 * 86400e3, y: 365 * 86400e3 }[rel[2] as 'h'];
    return now - n * unit;
  }
  if (!/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$/.test(s)) return NaN;
  return Date.parse(/T.*(Z|[+-]\d\d:\d\d)$/.test(s) ? s : s.includes('T') ? `${s}Z` : `${s}T00:00:00Z`);
}

function fieldValue(item: Searchable, field: string): unknown {
  switch (field) {
    case 'private':
      return item.isPrivateFile ?? false;
    case 'published':
      return item.isPublished ?? true;
    case 'format':
      return item.type === 'file' ? item.name.slice(item.name.lastIndexOf('.') + 1).toLowerCase() : undefined;
    case 'createdAt':
    case 'updatedAt':
      return item[field] ? Date.parse(item[field]!) : undefined;
    default:
      if (field.startsWith('customMetadata.')) return item.customMetadata?.[field.slice('customMetadata.'.length)];
      return (item as unknown as Record<string, unknown>)[field];
  }
}

function test(c: Cond, item: Searchable): boolean {
  const actual = fieldValue(item, c.field);
  const eq = (a: unknown, b: Value) => (typeof a === 'number' || typeof a === 'boolean' ? a === b || String(a) === String(b) : a === String(b));
  let hit: boolean;
  if (Array.isArray(actual)) {
    // tags: any of the file's tags matches
    const values = Array.isArray(c.value) ? c.value : [c.value];
    hit = c.op === ':' ? actual.some((a) => values.some((v) => String(a).startsWith(String(v)))) : actual.some((a) => values.some((v) => eq(a, v)));
  } else if (actual === undefined || actual === null) hit = false;
  else
    switch (c.op) {
      case '=':
        hit = eq(actual, c.value as Value);
        break;
      case ':':
        hit = String(actual).startsWith(String(c.value));
        break;
      case 'IN':
        hit = (c.value as Value[]).some((v) => eq(actual, v));
        break;
      default: {
        const a = Number(actual);
        const b = Number(c.value);
        hit = c.op === '>' ? a > b : c.op === '>=' ? a >= b : c.op === '<' ? a < b : a <= b;
      }
    }
  return c.not ? !hit : hit;
}

export function matches(n: Node, item: Searchable): boolean {
  if (n.kind === 'cond') return test(n, item);
  return n.kind === 'and' ? matches(n.left, item) && matches(n.right, item) : matches(n.left, item) || matches(n.right, item);
}

/** Does the query say anything about `type`? (Without it, files and folders both qualify.) */
export function mentionsField(n: Node, field: string): boolean {
  return n.kind === 'cond' ? n.field === field : mentionsField(n.left, field) || mentionsField(n.right, field);
}
