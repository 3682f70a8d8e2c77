/**
 * docs/management-api.md lists every method of the official @imagekit/nodejs client with its
 * status here. This walks the SDK's resources (as shipped in node_modules) so the table cannot
 * fall behind the SDK, and checks that every ✓ row names a test file that really calls it.
 */
import fs from 'node:fs';
import ImageKit from '@imagekit/nodejs';
import { describe, expect, it } from 'vitest';

/** "files.bulk.addTags", … : every public method of every resource reachable from the client. */
function sdkMethods(): string[] {
  const out: string[] = [];
  const seen = new Set<object>();
  const walk = (obj: object, prefix: string) => {
    for (const [key, value] of Object.entries(obj)) {
      if (key.startsWith('_') || !value || typeof value !== 'object' || seen.has(value) || !('_client' in value)) continue;
      seen.add(value);
      const proto = Object.getPrototypeOf(value) as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor' && typeof proto[name] === 'function') out.push(`${prefix}${key}.${name}`);
      walk(value, `${prefix}${key}.`);
    }
  };
  walk(new ImageKit({ privateKey: 'private_walk' }), '');
  return out.sort();
}

interface Row {
  method: string;
  status: string;
  test: string;
}

function docRows(): Row[] {
  const doc = fs.readFileSync('docs/management-api.md', 'utf8');
  const start = doc.indexOf('<!-- sdk-methods:start -->');
  const end = doc.indexOf('<!-- sdk-methods:end -->');
  expect(start).toBeGreaterThan(0);
  return doc
    .slice(start, end)
    .split('\n')
    .map((l) => /^\| `([^`]+)` \| ([^|]+) \| `?([^`|]*)`? \|$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ method: m[1]!, status: m[2]!.trim(), test: m[3]!.trim() }));
}

describe('docs/management-api.md: every SDK method', () => {
  const methods = sdkMethods();
  const rows = docRows();

  it('the walk finds the SDK resources (a sanity floor, so an empty walk cannot pass)', () => {
    expect(methods.length).toBeGreaterThan(40);
    expect(methods).toContain('files.bulk.addTags');
  });

  it('lists each SDK method exactly once, and nothing the SDK does not have', () => {
    expect(rows.map((r) => r.method).sort()).toEqual(methods);
  });

  it.each(rows.map((r) => [r.method, r] as const))('%s: ✓ names a test that calls it; anything else says why not', (method, row) => {
    if (row.status === '✓') {
      expect(row.test).toMatch(/^test\/.+\.test\.ts$/);
      const source = fs.readFileSync(row.test, 'utf8');
      const call = `${method.split('.').slice(-2).join('.')}(`;
      expect(source).toContain(call);
    } else {
      expect(row.status).toMatch(/^(✗|n\/a:) .{10,}$/);
      expect(row.test).toBe('');
    }
  });
});
