/**
 * No import cycles in shared/, edge/src or origin/src — type-only imports included (a cycle
 * closed through a type is still two modules that cannot be understood apart). The graph is
 * read statically with the TypeScript compiler's own pre-processor (every import, export-from
 * and dynamic import() with a relative specifier), and its strongly connected components are
 * found with Tarjan's algorithm.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOTS = ['shared', 'edge/src', 'origin/src'];

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path.resolve(p));
  }
  return out;
}

/** file → the repo files it imports (relative specifiers only; `.js` names resolve to `.ts`). */
export function importGraph(files: string[], read: (f: string) => string = (f) => fs.readFileSync(f, 'utf8')): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const deps = new Set<string>();
    for (const imp of ts.preProcessFile(read(f), true, true).importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      const base = path.resolve(path.dirname(f), imp.fileName);
      const hit = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base, `${base}.ts`, path.join(base, 'index.ts')].find((c) => known.has(c));
      if (hit) deps.add(hit);
    }
    graph.set(f, [...deps]);
  }
  return graph;
}

/** The cycles: strongly connected components of more than one file, or a file importing itself. */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('import cycles', () => {
  it('the detector finds a cycle closed through a type import, and a three-module ring (positive control)', () => {
    const src: Record<string, string> = {
      '/x/a.ts': "import { b } from './b.js';\nexport const a = b;",
      '/x/b.ts': "import type { A } from './a.js';\nexport const b = 1; export type B = A;",
      '/x/c.ts': "export { d } from './d.js';",
      '/x/d.ts': "export const d = () => import('./e.js');",
      '/x/e.ts': "import './c.js';",
      '/x/f.ts': "import { a } from './a.js'; import sharp from 'sharp';",
    };
    const cycles = cyclesOf(importGraph(Object.keys(src), (f) => src[f]!));
    expect(cycles).toEqual(expect.arrayContaining([['/x/a.ts', '/x/b.ts'], ['/x/c.ts', '/x/d.ts', '/x/e.ts']]));
    expect(cycles).toHaveLength(2);
  });

  it('the graph is really read: origin main.ts reaches the pipeline and the edge reaches shared/', () => {
    const graph = importGraph(ROOTS.flatMap((r) => sourceFiles(r)));
    const reach = (from: string) => {
      const seen = new Set<string>([path.resolve(from)]);
      const todo = [path.resolve(from)];
      while (todo.length) for (const d of graph.get(todo.pop()!) ?? []) if (!seen.has(d)) (seen.add(d), todo.push(d));
      return seen;
    };
    expect(graph.size).toBeGreaterThan(100);
    expect(reach('origin/src/main.ts').has(path.resolve('origin/src/pipeline/steps/input.ts'))).toBe(true);
    expect(reach('edge/src/index.ts').has(path.resolve('shared/cache-key.ts'))).toBe(true);
  });

  it.each(ROOTS)('%s and what it imports form no import cycle', (root) => {
    const graph = importGraph(ROOTS.flatMap((r) => sourceFiles(r)));
    const inRoot = (f: string) => f.startsWith(path.resolve(root) + path.sep);
    const cycles = cyclesOf(graph)
      .filter((c) => c.some(inRoot))
      .map((c) => c.map((f) => path.relative(process.cwd(), f)).join(' ↔ '));
    expect(cycles).toEqual([]);
  });
});
