/**
 * origin/src/log.ts builds a line from the context's JSON and the fields' own JSON: it must be the
 * JSON of `{ t, level, msg, ...context, ...fields }` character for character, whatever the fields.
 */
import { describe, expect, it } from 'vitest';
import { logLine, setLogContext } from '../../origin/src/log.js';

const NOW = Date.UTC(2026, 11, 2, 16, 30, 0, 123);
const spread = (base: Record<string, unknown>, level: string, msg: string, fields?: Record<string, unknown>) => JSON.stringify({ t: new Date(NOW).toISOString(), level, msg, ...base, ...fields });

const withProto = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as Record<string, unknown>;
const inherited = Object.create({ region: 'inherited', extra: 1 }) as Record<string, unknown>;
inherited.own = 'yes';
const withToJSON = { a: 1, toJSON: () => ({ replaced: true }) };
const withGetter = Object.defineProperty({ a: 1 }, 'lazy', { enumerable: true, get: () => 'computed' });
const withHidden = Object.defineProperty({ a: 1 }, 'hidden', { enumerable: false, value: 'no' });

const FIELDS: [string, Record<string, unknown> | undefined][] = [
  ['no fields', undefined],
  ['empty fields', {}],
  ['an access-log line', { requestId: 'r-1', method: 'GET', path: '/internal/render/a/tr:w-720/a.jpg', status: 200, cache: 'hit', ms: 0.3, hop: undefined }],
  ['a field repeating a context name (it overrides in place)', { region: 'other', a: 1 }],
  ['fields named t, level and msg', { t: 'x', level: 'debug', msg: 'override' }],
  ['array-index names (ordered first by an object)', { b: 1, 2: 'two', 10: 'ten', a: 3 }],
  ['a name starting with a digit that is not an index', { '1a': 1, b: 2 }],
  ['strings needing escapes', { q: 'say "hi"\n\t\\', u: 'é\u2028\ud800' }],
  ['nested values, null, booleans, numbers', { o: { deep: [1, { x: null }] }, n: null, yes: true, big: 1e21, neg: -0, nan: NaN }],
  ['functions and symbols (left out)', { f: () => 1, s: Symbol('s'), keep: 1 }],
  ['a date and an error', { at: new Date(0), err: String(new Error('boom')) }],
  ['an own __proto__ name', withProto],
  ['inherited enumerable names', inherited],
  ['a toJSON field', withToJSON],
  ['a getter', withGetter],
  ['a non-enumerable field', withHidden],
];

const CONTEXTS: [string, Record<string, unknown>][] = [
  ['no context', {}],
  ['a region context', { region: 'eu-central-1' }],
  ['a context with an index name', { 0: 'zero' }],
  ['a context holding an object', { tags: { a: 1 } }],
];

describe('logLine is the JSON of { t, level, msg, ...context, ...fields }', () => {
  // setLogContext merges into what was set before: the expected context is merged the same way, case by case, in order.
  let context: Record<string, unknown> = {};
  const cases = CONTEXTS.flatMap(([cname, ctx]) => FIELDS.map(([fname, fields]) => [`${cname} + ${fname}`, ctx, fields] as const));
  it.each(cases)('%s', (_name, ctx, fields) => {
    setLogContext(ctx);
    context = { ...context, ...ctx };
    for (const level of ['info', 'warn', 'error']) expect(logLine(level, 'request', fields, NOW)).toBe(spread(context, level, 'request', fields));
  });

  it('the timestamp follows the clock: two milliseconds give two stamps', () => {
    expect(logLine('info', 'a', undefined, NOW)).toContain('"t":"2026-12-02T16:30:00.123Z"');
    expect(logLine('info', 'a', undefined, NOW + 1)).toContain('"t":"2026-12-02T16:30:00.124Z"');
  });
});
