/**
 * Rendering an image inside a render (a layer's own chain). The implementation lives in
 * index.ts (it needs the whole pipeline); steps reach it through here, which keeps the step
 * modules free of an import cycle back to index.ts.
 */
import type { StepOps } from '../../../shared/transform/index.js';
import type { RenderState } from './context.js';

/** Unpremultiplied RGBA pixels. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
}

export type SubRenderer = (parent: RenderState, input: Buffer, steps: StepOps[], base: { bw: number; bh: number }) => Promise<RawImage>;

let impl: SubRenderer | undefined;

export function setSubRenderer(fn: SubRenderer): void {
  impl = fn;
}

/** Run `steps` on `input` (limits, decode, every step; layers nest) and return RGBA pixels. */
export function renderSubImage(parent: RenderState, input: Buffer, steps: StepOps[], base: { bw: number; bh: number }): Promise<RawImage> {
  if (!impl) throw new Error('the pipeline is not loaded');
  return impl(parent, input, steps, base);
}
