import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DOC_PATH, renderTransformDocs } from '../../scripts/gen-transform-docs.js';
import { PARAMS, SPECIAL_PARAMS } from '../../shared/transform/params.js';
import { POSITION_PARAMS, TEXT_PARAMS } from '../../shared/transform/layers.js';
import { parseTransformation } from '../../shared/transform/index.js';

describe('docs/transformations.md', () => {
  it('is exactly what scripts/gen-transform-docs.ts generates (run it after changing the parameter table)', () => {
    expect(readFileSync(DOC_PATH, 'utf8')).toBe(renderTransformDocs());
  });

  it.each(PARAMS.map((p) => [p.key, p.example] as const))('documents %s with an example that parses (%s)', (key, example) => {
    expect(renderTransformDocs()).toContain(`/demo/tr:${example}/sample.jpg`);
    expect(() => parseTransformation(example)).not.toThrow();
    expect(example.split(/[,:]/).some((t) => t === key || t.startsWith(`${key}-`))).toBe(true);
  });

  it.each([...POSITION_PARAMS, ...TEXT_PARAMS].map((p) => [p.group, p.key, p.example] as const))('documents the %s parameter %s with an example that parses (%s)', (_g, key, example) => {
    expect(renderTransformDocs()).toContain(`/demo/tr:${example}/sample.jpg`);
    expect(() => parseTransformation(example)).not.toThrow();
    expect(example.split(/[,:]/).some((t) => t.startsWith(`${key}-`))).toBe(true);
  });

  it('documents the special forms', () => {
    for (const p of SPECIAL_PARAMS) expect(renderTransformDocs()).toContain(`/demo/tr:${p.example}/sample.jpg`);
    expect(() => parseTransformation('n-thumb', { namedTransforms: { thumb: 'w-10' } })).not.toThrow();
    expect(() => parseTransformation('if-w_gt_400,w-400,if-else,w-200,if-end')).not.toThrow();
  });
});
