/** The pipeline's contract types (renderImage's options and result), in a module of their own so
 * the steps and the render state can name them without importing the pipeline's entry point. */
import type { AccountDefaults } from '../../../shared/accounts.js';
import type { Background, Color, ColorReplace, CropMode, Distort, CropStrategy, Focus, Gradient, Layer, NegotiatedFormat, OutputFormat, Radius, Shadow, UnsharpMask } from '../../../shared/transform/index.js';
import type { PipelineConfig } from './config.js';
import type { SourceInfo } from './source.js';

export interface RenderOptions {
  /** From the edge: a concrete format or "source" (keep the source's family). */
  format: NegotiatedFormat;
  /** Client hints forwarded by the edge (Sec-CH-DPR, Sec-CH-Width). */
  dpr?: number;
  widthHint?: number;
  defaults: AccountDefaults;
  /**
   * Checked between steps; an aborted render throws EBUSY (503). Independently, the whole render
   * is bounded by PIXMESH_RENDER_TIMEOUT_SECONDS (config.renderTimeoutSeconds).
   */
  signal?: AbortSignal;
  /** Override the process-wide configuration (tests). */
  config?: PipelineConfig;
  /**
   * Bytes of a layer image or a custom font (`kind`) of the same account, by path: the region
   * fetches them through the same cached, coalesced, SSRF-safe path as originals (a missing
   * one is a 404 ENOENT naming it). Without it, layers that need a file are 404s.
   */
  fetchLayer?: (path: string, kind: 'image' | 'font') => Promise<Buffer>;
  /**
   * `fo-custom`: the original's saved customCoordinates (media library), in its pixels. Absent:
   * fo-custom falls back to the centre. Never passed on to layer images.
   */
  focusArea?: { x: number; y: number; w: number; h: number };
  /**
   * The header facts of `input` (page 0), when the caller read them already (origin/src/limits.ts
   * checkInputPixels, for the pixel limit and the cost estimate): the limits step does not read
   * the header a second time. Never passed on to layer images.
   */
  source?: SourceInfo;
}

export interface RenderResult {
  data: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
  contentType: string;
  /** Whether the output carries an alpha channel. */
  hasAlpha?: boolean;
  /** Frames in the output (1 unless an animation was kept). */
  frames?: number;
  /** Intermediate pixel passes (materialisations) before the final encode; 0 for a simple resize. */
  passes?: number;
  /** Set when the render started from the decoded-original cache: the JPEG shrink of its pixels (./decoded-cache.ts). */
  decoded?: 1 | 2 | 4 | 8;
  /** Facts about the original. */
  source?: SourceInfo;
  /** Layers placed and the time they took (fetch, render, composite). */
  layers?: LayerStats;
}

export interface LayerStats {
  count: number;
  ms: number;
  /** Face detections run (not served from the cache) and their time. */
  faceDetections: number;
  faceMs: number;
}

/** The concrete operations of one chain step for the current image (set by the resolve step: steps/resolve.ts). */
export interface ResolvedOps {
  /** Target width/height in px before dpr (undefined: not constrained). */
  w?: number;
  h?: number;
  /** width ÷ height from `ar`. */
  ar?: number;
  c: CropStrategy;
  cm?: CropMode;
  fo: Focus;
  x?: number;
  y?: number;
  xc?: number;
  yc?: number;
  /** Zoom around the fo-face / fo-custom focus box (1 = none). */
  z: number;
  dpr: number;
  bl?: number;
  grayscale?: boolean;
  contrast?: boolean;
  sharpen?: number;
  usm?: UnsharpMask;
  t?: number;
  border?: { width: number; color: Color };
  r?: Radius;
  /** Clockwise degrees in [0, 360); 0 = none. */
  rt: number;
  fl?: 'h' | 'v' | 'h_v';
  bg?: Background;
  o?: number;
  shadow?: Shadow;
  layers?: Layer[];
  gradient?: Gradient & { stop: number };
  cr?: ColorReplace;
  colorize?: { color: Color; intensity: number };
  distort?: Distort;
}
