/** The pipeline's contract types (renderImage's options and result), in a module of their own so
 * the steps and the render state can name them without importing the pipeline's entry point. */
import type { AccountDefaults } from '../../../shared/accounts.js';
import type { NegotiatedFormat, OutputFormat } from '../../../shared/transform/index.js';
import type { PipelineConfig } from './config.js';
import type { LayerStats } from './context.js';
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
  /** Facts about the original. */
  source?: SourceInfo;
  /** Layers placed and the time they took (fetch, render, composite). */
  layers?: LayerStats;
}
