/**
 * Face detection for `fo-face`: @vladmandic/face-api's TinyFaceDetector (weights ship inside the
 * npm package, 190 KB; MIT) on TensorFlow.js' WebAssembly backend (the .wasm ships inside
 * @tensorflow/tfjs-backend-wasm) — nothing is downloaded at install or run time.
 *
 * Bounded on every axis (docs/transformations.md "Face focus"):
 * - the model is loaded lazily, once per process (the first fo-face render pays ~1 s);
 * - detection runs on a downscaled copy (longest side PROBE_MAX px), never on the full image;
 * - one detection at a time per process (tfjs-wasm is one instance); a caller waits at most
 *   FACE_TIMEOUT_MS (and never past its render's deadline) for its turn plus the detection,
 *   then the render is refused with 503 EBUSY (retryable; a guessed crop would be cached);
 * - results are cached per probe (a hash of the probe's pixels): every variant of one original
 *   that reaches fo-face with the same pixels reuses one detection.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A face box in the pixels of the image that was probed. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
  /** The detector's confidence 0–1 (faces only). */
  score?: number;
}

/**
 * Longest side of the copy the detector sees (px) = the detector's input size (a multiple of
 * 32). Measured on the fixture: at 416 a face of 6 % of a 1200-px image's width is missed, at 608
 * it is found; 608 costs about twice 416 (docs/transformations.md "Face focus").
 */
export const PROBE_MAX = 608;
const SCORE_THRESHOLD = 0.5;
/** Faces scoring below this share of the best face's score are dropped (the tiny model's false positives score ~0.55–0.6 next to real faces' 0.7–0.9). */
const RELATIVE_SCORE = 0.9;
/** Wait for the detector's turn + the detection itself (also bounded by the render's deadline). */
export const FACE_TIMEOUT_MS = 10_000;
const CACHE_ENTRIES = 1000;

interface FaceApi {
  tf: {
    setBackend(name: string): Promise<boolean>;
    ready(): Promise<void>;
    tensor3d(values: Uint8Array | Int32Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
    io: { decodeWeights(buffer: ArrayBuffer, specs: unknown[]): Record<string, unknown> };
  };
  nets: { tinyFaceDetector: { loadFromWeightMap(w: Record<string, unknown>): Promise<void> } };
  TinyFaceDetectorOptions: new (o: { inputSize: number; scoreThreshold: number }) => unknown;
  detectAllFaces(input: unknown, options: unknown): Promise<{ score: number; box: { x: number; y: number; width: number; height: number } }[]>;
}

let loading: Promise<FaceApi> | undefined;

async function load(): Promise<FaceApi> {
  const require = createRequire(import.meta.url);
  // the Node build that uses the wasm backend (the default Node build needs tfjs-node's native download)
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  await api.tf.setBackend('wasm');
  await api.tf.ready();
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const manifest = JSON.parse(readFileSync(join(dir, 'tiny_face_detector_model-weights_manifest.json'), 'utf8')) as { weights: unknown[] }[];
  const bin = readFileSync(join(dir, 'tiny_face_detector_model.bin'));
  const weights = api.tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer, manifest.flatMap((g) => g.weights));
  await api.nets.tinyFaceDetector.loadFromWeightMap(weights);
  return api;
}

/** The detector, loaded once per process (a failed load is retried by the next caller). */
function detector(): Promise<FaceApi> {
  loading ??= load().catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

let turn: Promise<unknown> = Promise.resolve();
const cache = new Map<string, Box[]>();

export interface Detection {
  faces: Box[];
  /** True when the answer came from the cache (no detector time spent). */
  cached: boolean;
  /** Why no detection could be made (timeout, load failure); faces is then empty. */
  skipped?: string;
}

/**
 * Faces in an RGB probe (3 channels, at most PROBE_MAX px on its longest side), in probe pixels,
 * largest first. Never throws: a detector that cannot run (or not in time) answers no faces, with
 * `skipped` saying why (the caller decides; the pipeline answers 503, never a wrong crop that
 * would be cached).
 */
export async function detectFaces(rgb: Buffer, width: number, height: number, timeoutMs = FACE_TIMEOUT_MS): Promise<Detection> {
  if (rgb.length !== width * height * 3) return { faces: [], cached: false, skipped: `the probe is not ${width}×${height} RGB` };
  const key = createHash('sha1').update(`${width}x${height}\n`).update(rgb).digest('hex');
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit); // LRU order
    return { faces: hit, cached: true };
  }
  const run = turn.then(async () => {
    const api = await detector();
    const tensor = api.tf.tensor3d(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength), [height, width, 3], 'int32');
    try {
      const found = await api.detectAllFaces(tensor, new api.TinyFaceDetectorOptions({ inputSize: PROBE_MAX, scoreThreshold: SCORE_THRESHOLD }));
      const best = Math.max(0, ...found.map((d) => d.score));
      return found
        .filter((d) => d.score >= best * RELATIVE_SCORE)
        .map((d) => ({ ...clampBox({ x: d.box.x, y: d.box.y, w: d.box.width, h: d.box.height }, width, height), score: Math.round(d.score * 1000) / 1000 }))
        .filter((b) => b.w > 0 && b.h > 0)
        .sort((a, b) => b.w * b.h - a.w * a.h);
    } finally {
      tensor.dispose();
    }
  });
  turn = run.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  try {
    const faces = await Promise.race([run, timeout]);
    if (faces === 'timeout') return { faces: [], cached: false, skipped: `face detection took longer than ${timeoutMs} ms` };
    cache.set(key, faces);
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    return { faces, cached: false };
  } catch (e) {
    return { faces: [], cached: false, skipped: `face detector unavailable: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

function clampBox(b: Box, width: number, height: number): Box {
  const x = Math.max(0, b.x);
  const y = Math.max(0, b.y);
  return { x, y, w: Math.min(width, b.x + b.w) - x, h: Math.min(height, b.y + b.h) - y };
}

/** The smallest box holding every box (all faces are kept in the crop). Pure. */
export function unionBox(boxes: readonly Box[]): Box | undefined {
  if (!boxes.length) return undefined;
  const x0 = Math.min(...boxes.map((b) => b.x));
  const y0 = Math.min(...boxes.map((b) => b.y));
  const x1 = Math.max(...boxes.map((b) => b.x + b.w));
  const y1 = Math.max(...boxes.map((b) => b.y + b.h));
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/**
 * The region to crop around a focus box (a face, or the file's custom coordinates) in a
 * `cw`×`ch` image. Pure.
 * - `aspect` (w÷h of the output) given: the smallest box of that aspect holding the focus box,
 *   divided by `zoom` (z < 1 widens it, z > 1 tightens it), centred on the focus box;
 * - no aspect: the focus box itself, divided by `zoom`.
 * The region is then shrunk (keeping its aspect) to fit inside the image and moved inside it.
 */
export function focusRegion(focus: Box, cw: number, ch: number, aspect: number | undefined, zoom: number): Box {
  let w: number;
  let h: number;
  if (aspect === undefined) [w, h] = [focus.w / zoom, focus.h / zoom];
  else {
    [w, h] = focus.w / focus.h > aspect ? [focus.w, focus.w / aspect] : [focus.h * aspect, focus.h];
    [w, h] = [w / zoom, h / zoom];
  }
  const fit = Math.min(1, cw / w, ch / h);
  w = Math.max(1, Math.min(cw, Math.round(w * fit)));
  h = Math.max(1, Math.min(ch, Math.round(h * fit)));
  const cx = focus.x + focus.w / 2;
  const cy = focus.y + focus.h / 2;
  const x = Math.min(cw - w, Math.max(0, Math.round(cx - w / 2)));
  const y = Math.min(ch - h, Math.max(0, Math.round(cy - h / 2)));
  return { x, y, w, h };
}
