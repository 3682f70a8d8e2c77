/**
 * Rendering an image inside a render (a layer's own chain). The implementation lives in index.ts
 * (it needs the whole pipeline) and travels on the render state, so the step modules need no
 * import of index.ts and nothing is registered at import.
 */
import type { StepOps } from '../../../shared/transform/index.js';
import type { RawImage, RenderState } from './context.js';

export type { RawImage, SubRenderer } from './context.js';

/** Run `steps` on `input` (limits, decode, every step; layers nest) and return RGBA pixels. */
export function renderSubImage(parent: RenderState, input: Buffer, steps: StepOps[], base: { bw: number; bh: number }): Promise<RawImage> {
  return parent.renderSub(parent, input, steps, base);
}
