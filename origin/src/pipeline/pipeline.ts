/**
 * The pipeline, declared once (imgproxy style). A render is:
 *
 *   PREPARE (limits) → for each frame: DECODE, then for each chain step STEP_PIPELINE
 *   → (animated: join the frames) → FINALIZE (format, encode)
 *
 * and each chain step runs its operations in THIS order, whatever their order in the URL.
 * Between steps the caller's deadline (AbortSignal) is checked. A still image is one frame.
 */
import type { RenderState } from './context.js';
import { background } from './steps/background.js';
import { border } from './steps/border.js';
import { blur, contrast, grayscale, sharpen } from './steps/effects.js';
import { flip } from './steps/flip.js';
import { checkLimits, decode } from './steps/input.js';
import { colorReplace } from './steps/color-replace.js';
import { colorize } from './steps/colorize.js';
import { distort } from './steps/distort.js';
import { gradient } from './steps/gradient.js';
import { layers } from './steps/layers.js';
import { chooseFormat, encode } from './steps/output.js';
import { opacity } from './steps/opacity.js';
import { radius } from './steps/radius.js';
import { resize } from './steps/resize.js';
import { rotate } from './steps/rotate.js';
import { shadow } from './steps/shadow.js';
import { trim } from './steps/trim.js';

export type Step = (ctx: RenderState) => Promise<void> | void;
export interface NamedStep {
  name: string;
  run: Step;
}

/** Once per render: limits from the header, before any pixel is decoded. */
export const PREPARE: readonly NamedStep[] = [{ name: 'limits', run: checkLimits }];

/** Once per frame: open the image (EXIF orientation applied). */
export const DECODE: readonly NamedStep[] = [{ name: 'decode', run: decode }];

/** The operations of one chain step, in execution order. */
export const STEP_PIPELINE: readonly NamedStep[] = [
  { name: 'trim', run: trim },
  { name: 'grayscale', run: grayscale },
  { name: 'resize', run: resize },
  { name: 'rotate', run: rotate },
  { name: 'flip', run: flip },
  { name: 'blur', run: blur },
  { name: 'sharpen', run: sharpen },
  { name: 'contrast', run: contrast },
  { name: 'colour-replace', run: colorReplace },
  { name: 'colorize', run: colorize },
  { name: 'distort', run: distort },
  { name: 'gradient', run: gradient },
  { name: 'border', run: border },
  { name: 'radius', run: radius },
  { name: 'opacity', run: opacity },
  { name: 'shadow', run: shadow },
  { name: 'background', run: background },
  { name: 'layers', run: layers },
];

/** After the chain. */
export const FINALIZE: readonly NamedStep[] = [
  { name: 'format', run: chooseFormat },
  { name: 'encode', run: encode },
];
