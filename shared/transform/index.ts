/**
 * The transformation grammar (ImageKit's `tr` dialect). PLACEHOLDER: a minimal w/h/q/f parser
 * that the transformation-engine work replaces; the exported signatures are the contract the
 * edge and origin call.
 */
import { badTransformation } from '../errors.js';
import type { AccountDefaults } from '../accounts.js';

export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif';

export interface TransformStep {
  [key: string]: string | number | boolean;
}

export interface TransformPlan {
  steps: TransformStep[];
  /** `orig-true`: the original bytes, untransformed. */
  original: boolean;
  /** An explicit `f-` other than auto; undefined means the format is negotiated. */
  format?: OutputFormat | 'orig';
  /** `di-`: default image path when the original is missing. */
  defaultImage?: string;
}

export interface ParseContext {
  namedTransforms?: Record<string, string>;
  namedOnly?: boolean;
}

export function parseTransformation(tr: string | null | undefined, _ctx: ParseContext = {}): TransformPlan {
  const plan: TransformPlan = { steps: [], original: false };
  if (!tr) return plan;
  for (const stepText of tr.split(':')) {
    const step: TransformStep = {};
    for (const param of stepText.split(',')) {
      if (!param) continue;
      const dash = param.indexOf('-');
      const key = dash < 0 ? param : param.slice(0, dash);
      const value = dash < 0 ? '' : param.slice(dash + 1);
      switch (key) {
        case 'w':
        case 'h': {
          const n = Number(value);
          if (!/^\d+$/.test(value) || n < 1 || n > 16383) throw badTransformation(`${key}: expected an integer 1–16383, got "${value}"`);
          step[key] = n;
          break;
        }
        case 'q': {
          const n = Number(value);
          if (!/^\d+$/.test(value) || n < 1 || n > 100) throw badTransformation(`q: expected an integer 1–100, got "${value}"`);
          step.q = n;
          break;
        }
        case 'f':
          if (value === 'auto') break;
          if (value === 'jpg' || value === 'jpeg') plan.format = 'jpeg';
          else if (value === 'png' || value === 'webp' || value === 'avif' || value === 'gif' || value === 'orig') plan.format = value;
          else throw badTransformation(`f: unknown format "${value}"`);
          break;
        case 'orig':
          plan.original = value === 'true';
          break;
        default:
          throw badTransformation(`unknown parameter "${key}"`);
      }
    }
    if (Object.keys(step).length) plan.steps.push(step);
  }
  return plan;
}

/** A canonical string for cache keys: the same output ⇒ the same string. */
export function canonicalTransformation(plan: TransformPlan): string {
  if (plan.original) return 'orig-true';
  const steps = plan.steps.map((s) =>
    Object.keys(s)
      .sort()
      .map((k) => `${k}-${s[k]}`)
      .join(','),
  );
  if (plan.format) steps.push(`f-${plan.format}`);
  return steps.join(':');
}

/** What the edge tells the origin to produce: a concrete format, or the source's own family. */
export type NegotiatedFormat = OutputFormat | 'source';

export function negotiateFormat(
  plan: TransformPlan,
  accept: string | null | undefined,
  defaults: AccountDefaults,
): { format: NegotiatedFormat; negotiated: boolean } {
  if (plan.original || plan.format === 'orig') return { format: 'source', negotiated: false };
  if (plan.format) return { format: plan.format, negotiated: false };
  if (!defaults.autoFormat) return { format: 'source', negotiated: false };
  const a = (accept ?? '').toLowerCase();
  if (defaults.avif && a.includes('image/avif')) return { format: 'avif', negotiated: true };
  if (a.includes('image/webp')) return { format: 'webp', negotiated: true };
  return { format: 'source', negotiated: true };
}
