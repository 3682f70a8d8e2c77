/**
 * Value syntax shared by the parameter table: numbers with ImageKit's `N` negatives, arithmetic
 * expressions, colours. Every failure is a 400 EBADTR naming the parameter and what it accepts.
 */
import { badTransformation } from '../errors.js';
import { COLOR_NAMES } from './colors.js';
import type { Color, Expr, ExprOp, ExprVar, NumOrExpr } from './types.js';

export const EXPR_VARS: readonly ExprVar[] = ['iw', 'ih', 'iar', 'cw', 'ch', 'car'];
/** The base's width, height, aspect ratio: only inside layers. */
export const LAYER_EXPR_VARS: readonly ExprVar[] = ['bw', 'bh', 'bar'];
const ALL_VARS: readonly string[] = [...EXPR_VARS, ...LAYER_EXPR_VARS];

/** How many layer blocks the (synchronous, pure) parser is inside: bw bh bar are allowed when > 0. */
let layerDepth = 0;
/** Run `fn` with the layer variables allowed (the parser wraps a layer block's parameters in it). */
export function insideLayer<T>(fn: () => T): T {
  layerDepth++;
  try {
    return fn();
  } finally {
    layerDepth--;
  }
}
export const EXPR_OPS: readonly ExprOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'pow'];

const NUMBER_RE = /^N?(\d+(\.\d+)?|\.\d+)$/;

/** `40` → 40, `N40` → -40, `0.5` → 0.5; undefined when not a number. */
export function parseNumber(raw: string): number | undefined {
  if (!NUMBER_RE.test(raw)) return undefined;
  const neg = raw.startsWith('N');
  const n = Number(neg ? raw.slice(1) : raw);
  return Number.isFinite(n) ? (neg ? -n : n) : undefined;
}

/** Shown in messages: user text is bounded and quoted. */
export function quote(raw: string): string {
  const s = raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
  return JSON.stringify(s);
}

export interface NumberRange {
  min: number;
  max: number;
  integer?: boolean;
  /** The minimum itself is not allowed (e.g. 0 < f). */
  exclusiveMin?: boolean;
}

export function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'an integer' : 'a number';
  return `${kind} ${r.exclusiveMin ? 'greater than ' + r.min + ' and up to' : 'from ' + r.min + ' to'} ${r.max}`;
}

export function num(key: string, raw: string | null, range: NumberRange, what?: string): number {
  const expected = what ?? describeRange(range);
  if (raw === null || raw === '') throw badTransformation(`${key}: missing value, expected ${expected}`);
  const n = parseNumber(raw);
  if (n === undefined) throw badTransformation(`${key}: expected ${expected}, got ${quote(raw)}`);
  if (range.integer && !Number.isInteger(n)) throw badTransformation(`${key}: expected ${expected}, got ${quote(raw)}`);
  if (n < range.min || n > range.max || (range.exclusiveMin && n === range.min))
    throw badTransformation(`${key}: ${quote(raw)} is out of range, expected ${expected}`);
  return n;
}

export function isExprLike(raw: string): boolean {
  return raw.split('_').some((t) => ALL_VARS.includes(t) || (EXPR_OPS as readonly string[]).includes(t));
}

/** `iw_div_2`, `ih_mul_0.5_sub_N10`. Layer variables (bw bh bar) are rejected outside layers. */
export function parseExpr(key: string, raw: string): Expr {
  const parts = raw.split('_');
  const tokens: Expr['tokens'] = [];
  if (parts.length % 2 === 0)
    throw badTransformation(`${key}: the expression ${quote(raw)} is incomplete (expected <operand>[_<op>_<operand>…])`);
  parts.forEach((p, i) => {
    if (i % 2 === 1) {
      if (!(EXPR_OPS as readonly string[]).includes(p))
        throw badTransformation(`${key}: unknown operator ${quote(p)} in ${quote(raw)} (allowed: ${EXPR_OPS.join(' ')})`);
      tokens.push(p as ExprOp);
      return;
    }
    if ((EXPR_VARS as readonly string[]).includes(p)) return void tokens.push(p as ExprVar);
    if ((LAYER_EXPR_VARS as readonly string[]).includes(p)) {
      if (layerDepth === 0) throw badTransformation(`${key}: ${p} is only allowed inside layers`);
      return void tokens.push(p as ExprVar);
    }
    const n = parseNumber(p);
    if (n === undefined)
      throw badTransformation(`${key}: ${quote(p)} in ${quote(raw)} is not a number or a variable (${EXPR_VARS.join(' ')})`);
    tokens.push(n);
  });
  return { kind: 'expr', tokens };
}

export function isExpr(v: unknown): v is Expr {
  return typeof v === 'object' && v !== null && (v as Expr).kind === 'expr';
}

export interface ExprScope {
  iw: number;
  ih: number;
  cw: number;
  ch: number;
  /** The base a layer is placed on (inside layers only). */
  bw?: number;
  bh?: number;
}

const PREC: Record<ExprOp, number> = { add: 1, sub: 1, mul: 2, div: 2, mod: 2, pow: 3 };

function applyOp(op: ExprOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return b === 0 ? NaN : a / b;
    case 'mod':
      return b === 0 ? NaN : a % b;
    case 'pow':
      return a ** b;
  }
}

/** The value of an expression variable: input (iw ih iar) or current (cw ch car) dimensions. */
export function scopeValue(v: ExprVar, s: ExprScope): number {
  switch (v) {
    case 'iw':
      return s.iw;
    case 'ih':
      return s.ih;
    case 'iar':
      return s.iw / s.ih;
    case 'cw':
      return s.cw;
    case 'ch':
      return s.ch;
    case 'car':
      return s.cw / s.ch;
    case 'bw':
      return s.bw ?? NaN;
    case 'bh':
      return s.bh ?? NaN;
    case 'bar':
      return (s.bw ?? NaN) / (s.bh ?? NaN);
  }
}

/** Evaluate with the usual precedence (pow > mul div mod > add sub), left-associative. */
export function evalExpr(e: Expr, s: ExprScope): number {
  const vals: number[] = [];
  const ops: ExprOp[] = [];
  const value = (t: number | ExprVar): number => (typeof t === 'number' ? t : scopeValue(t, s));
  const reduce = () => {
    const b = vals.pop()!;
    const a = vals.pop()!;
    vals.push(applyOp(ops.pop()!, a, b));
  };
  e.tokens.forEach((t, i) => {
    if (i % 2 === 0) return void vals.push(value(t as number | ExprVar));
    const op = t as ExprOp;
    // pow is right-associative; the others left
    while (ops.length && (PREC[ops[ops.length - 1]!] > PREC[op] || (PREC[ops[ops.length - 1]!] === PREC[op] && op !== 'pow'))) reduce();
    ops.push(op);
  });
  while (ops.length) reduce();
  return vals[0]!;
}

export function formatNumber(n: number): string {
  if (Object.is(n, -0)) return 'N0'; // lx-N0 (flush with the right edge) is not lx-0
  const s = String(Math.round(n * 1e6) / 1e6);
  return s.startsWith('-') ? `N${s.slice(1)}` : s;
}

export function formatExpr(e: Expr): string {
  return e.tokens.map((t) => (typeof t === 'number' ? formatNumber(t) : t)).join('_');
}

export function formatNumOrExpr(v: NumOrExpr): string {
  return typeof v === 'number' ? formatNumber(v) : formatExpr(v);
}

export function numOrExpr(key: string, raw: string | null, range: NumberRange): NumOrExpr {
  if (raw !== null && isExprLike(raw)) return parseExpr(key, raw);
  return num(key, raw, range, `${describeRange(range)} or an expression like iw_div_2`);
}

/**
 * Colours: RRGGBB, RRGGBBAA (AA is ImageKit's 00–99 opacity percentage), RGB shorthand, or a
 * CSS colour name. Canonical hex is upper-case RRGGBB, plus AA only when not opaque.
 */
export function parseColor(key: string, raw: string): Color {
  const name = COLOR_NAMES[raw.toLowerCase()];
  let hex = name ?? raw.toUpperCase();
  if (/^[0-9A-F]{3}$/.test(hex)) hex = hex.replace(/./g, (c) => c + c);
  let alpha = 1;
  if (/^[0-9A-F]{8}$/.test(hex)) {
    const aa = hex.slice(6);
    if (!/^\d\d$/.test(aa)) throw badTransformation(`${key}: the alpha part of ${quote(raw)} must be 00–99 (opacity percent)`);
    alpha = Number(aa) / 100;
    hex = hex.slice(0, 6);
  }
  if (!/^[0-9A-F]{6}$/.test(hex))
    throw badTransformation(`${key}: ${quote(raw)} is not a colour (expected RRGGBB, RRGGBBAA with AA 00–99, or a colour name)`);
  return {
    r: parseInt(hex.slice(0, 2), 16),
    g: parseInt(hex.slice(2, 4), 16),
    b: parseInt(hex.slice(4, 6), 16),
    alpha,
    hex: alpha === 1 ? hex : hex + String(Math.round(alpha * 100)).padStart(2, '0'),
  };
}

export function bool(key: string, raw: string | null): boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw badTransformation(`${key}: expected true or false, got ${raw === null ? 'no value' : quote(raw)}`);
}

export function oneOf<T extends string>(key: string, raw: string | null, allowed: readonly T[]): T {
  if (raw !== null && (allowed as readonly string[]).includes(raw)) return raw as T;
  throw badTransformation(`${key}: expected one of ${allowed.join(', ')}, got ${raw === null ? 'no value' : quote(raw)}`);
}
