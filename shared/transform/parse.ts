/**
 * The `tr` grammar: steps `:`, parameters `,`, key-value `-`, sub-values `_`, negatives `N40`,
 * named transforms, conditional steps and (structure-only) overlay blocks. Pure.
 */
import { badTransformation } from '../errors.js';
import { parseLayerBlock, type LayerToken } from './layers.js';
import { PARAM_BY_KEY, UNSUPPORTED_PARAMS, type OutputSpec, type PlanOutput, type StepSpec } from './params.js';
import type { CondOp, CondProp, Condition, IfStep, ParseContext, StepOps, TransformPlan, TransformStep } from './types.js';
import { parseNumber, quote } from './values.js';

export const MAX_TR_LENGTH = 4096;
export const MAX_STEPS = 20;
const COND_PROPS: readonly CondProp[] = ['w', 'h', 'ar', 'iw', 'ih', 'iar'];
const COND_OPS: readonly CondOp[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'];

/** `e-sharpen-10` → ["e-sharpen", "10"]; `w-300` → ["w", "300"]; `e-grayscale` → ["e-grayscale", null]. */
export function splitParam(token: string): { key: string; raw: string | null } {
  const first = token.indexOf('-');
  if (first < 0) return { key: token, raw: null };
  if (token.startsWith('e-')) {
    const second = token.indexOf('-', 2);
    return second < 0 ? { key: token, raw: null } : { key: token.slice(0, second), raw: token.slice(second + 1) };
  }
  return { key: token.slice(0, first), raw: token.slice(first + 1) };
}

/**
 * Percent-decode the transformation, except layer inputs (`i-…`, `ie-…`): their text may hold an
 * encoded `,` or `:` that must not split the transformation; the layer parser decodes them.
 */
function decodeIfEncoded(tr: string): string {
  if (!/%[0-9A-Fa-f]{2}/.test(tr)) return tr;
  return tr
    .split(/([,:])/)
    .map((part) => {
      if (/^ie?-/.test(part) || !part.includes('%')) return part;
      try {
        return decodeURIComponent(part);
      } catch {
        throw badTransformation('the transformation is not valid percent-encoding');
      }
    })
    .join('');
}

/**
 * Split into chain steps at `:` and parameters at `,`. Inside an open `l-…` block a `:` separates
 * the layer's own chain steps: it stays in the token list as the token ":".
 */
function splitSteps(text: string): string[][] {
  const steps: string[][] = [[]];
  let depth = 0;
  for (const part of text.split(/([,:])/)) {
    if (part === ',' || part === '') continue;
    if (part === ':') {
      if (depth > 0) steps[steps.length - 1]!.push(':');
      else steps.push([]);
      continue;
    }
    if (part === 'l-end') depth = Math.max(0, depth - 1);
    else if (part.startsWith('l-')) depth++;
    steps[steps.length - 1]!.push(part);
  }
  return steps;
}

/** Replace every `n-<name>` token by the account's named transformation (one level, no recursion). */
function expandNamed(tr: string, ctx: ParseContext): string {
  const steps = tr.split(':').map((stepText) =>
    stepText
      .split(',')
      .map((token) => {
        if (!token.startsWith('n-')) {
          if (ctx.namedOnly && token !== '')
            throw badTransformation(`this account accepts only named transformations (n-<name>); ${quote(token)} is not one`);
          return token;
        }
        const name = token.slice(2);
        const named = ctx.namedTransforms && Object.prototype.hasOwnProperty.call(ctx.namedTransforms, name) ? ctx.namedTransforms[name] : undefined;
        if (named === undefined) throw badTransformation(`n: unknown named transformation ${quote(name)}`);
        if (named.split(/[:,]/).some((t) => t.startsWith('n-')))
          throw badTransformation(`n: named transformation ${quote(name)} may not reference another named transformation`);
        return named;
      })
      .join(','),
  );
  return steps.join(':');
}

function parseCondition(text: string): Condition {
  const parts = text.split('_');
  const clauses: Condition['clauses'] = [];
  const joins: Condition['joins'] = [];
  const bad = (why: string) =>
    badTransformation(`if: ${why} in ${quote(text)} (expected <prop>_<op>_<value>[_and|_or_…], props ${COND_PROPS.join(' ')}, ops ${COND_OPS.join(' ')})`);
  for (let i = 0; i < parts.length; i += 4) {
    const [prop, op, value] = [parts[i], parts[i + 1], parts[i + 2]];
    if (prop === undefined || !(COND_PROPS as readonly string[]).includes(prop)) throw bad(`unknown property ${quote(prop ?? '')}`);
    if (op === undefined || !(COND_OPS as readonly string[]).includes(op)) throw bad(`unknown operator ${quote(op ?? '')}`);
    const fraction = value !== undefined && (prop === 'ar' || prop === 'iar') ? /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value) : null;
    if (fraction) {
      const [a, b] = [Number(fraction[1]), Number(fraction[2])];
      if (!(a > 0 && b > 0)) throw bad(`${quote(value!)} is not a valid aspect ratio`);
      clauses.push({ prop: prop as CondProp, op: op as CondOp, value: a / b, fraction: [a, b] });
    } else {
      const n = value === undefined ? undefined : parseNumber(value);
      if (n === undefined) throw bad(`${quote(value ?? '')} is not a number${prop === 'ar' || prop === 'iar' ? ' or a <w>-<h> ratio' : ''}`);
      clauses.push({ prop: prop as CondProp, op: op as CondOp, value: n });
    }
    const join = parts[i + 3];
    if (join === undefined) break;
    if (join !== 'and' && join !== 'or') throw bad(`expected and/or, got ${quote(join)}`);
    if (parts[i + 4] === undefined) throw bad('a condition is missing after ' + join);
    joins.push(join);
  }
  return { clauses, joins };
}

interface OpsScope {
  plan: TransformPlan;
  where: 'step' | 'if';
  /** Layers parsed so far in this transformation (bounded by MAX_LAYERS). */
  counter: { layers: number };
  /** Nesting depth of the layer whose chain this is (0: the main chain). */
  depth: number;
}

function parseOps(tokens: readonly LayerToken[], scope: OpsScope): StepOps {
  const { plan, where } = scope;
  const ops: StepOps = {};
  const target = ops as Record<string, unknown>;
  const out = plan as unknown as Record<string, unknown>;
  const addLayer = (layer: NonNullable<StepOps['layers']>[number]) => (ops.layers ??= []).push(layer);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (typeof token !== 'string') {
      addLayer(token); // a nested layer, already parsed by the enclosing layer block
      continue;
    }
    if (token === '') continue;
    if (token === ':') throw badTransformation('l: unexpected ":" outside a layer');
    if (token.startsWith('l-')) {
      if (token === 'l-end') throw badTransformation('l: l-end without a matching l-<type>');
      const strings = tokens.slice(i).map((t) => (typeof t === 'string' ? t : ''));
      const inner: OpsScope = { ...scope, depth: scope.depth + 1 };
      const { layer, next } = parseLayerBlock(strings, 0, scope.depth + 1, (t) => parseOps(t, inner), scope.counter);
      addLayer(layer);
      i += next - 1;
      continue;
    }
    if (token === 'if-end' || token === 'if-else' || token.startsWith('if-'))
      throw badTransformation(`if: a conditional block must be its own chain step (if-…,…,if-end between ":"), found ${quote(token)}`);
    const { key, raw } = splitParam(token);
    const spec = PARAM_BY_KEY.get(key);
    if (!spec) {
      const unsupported = UNSUPPORTED_PARAMS[key];
      if (unsupported) throw badTransformation(unsupported);
      throw badTransformation(`unknown parameter ${quote(key)}`);
    }
    if (spec.scope === 'step') {
      const v = (spec as StepSpec).parse(raw);
      if (key === 't' && v === 0) delete target.t;
      else target[spec.field] = v;
    } else {
      if (where === 'if') throw badTransformation(`${key}: output parameters are not allowed inside an if block`);
      const v = (spec as OutputSpec).parse(raw);
      if (v === undefined) delete out[spec.field as keyof PlanOutput];
      else out[spec.field] = v;
    }
  }
  return ops;
}

export function parseTransformation(tr: string | null | undefined, ctx: ParseContext = {}): TransformPlan {
  const plan: TransformPlan = { steps: [], original: false };
  if (!tr) return plan;
  if (tr.length > MAX_TR_LENGTH) throw badTransformation(`the transformation is longer than ${MAX_TR_LENGTH} characters`);
  const text = expandNamed(decodeIfEncoded(tr), ctx);
  if (text.length > MAX_TR_LENGTH * 4) throw badTransformation('the expanded transformation is too long');
  const rawSteps = splitSteps(text);
  const counter = { layers: 0 };
  let count = 0;
  for (let i = 0; i < rawSteps.length; i++) {
    const tokens = rawSteps[i]!;
    if (!tokens.length) continue;
    let step: TransformStep;
    if (isIfStart(tokens[0]!)) {
      // an if block is a step of its own, but its branches may be chains: collect steps up to if-end
      const block: string[][] = [tokens];
      for (;;) {
        const last = block[block.length - 1]!;
        const end = last.indexOf('if-end');
        if (end >= 0 && end !== last.length - 1)
          throw badTransformation('if: if-end must close the step: a step holding an if block cannot hold other parameters');
        if (end >= 0) break;
        const next = rawSteps[++i];
        if (next === undefined) throw badTransformation('if: the conditional block must end with if-end');
        block.push(next);
      }
      step = parseIfBlock(block, plan, counter);
      count += Math.max(1, step.then.length, step.else?.length ?? 0);
    } else {
      const ops = parseOps(tokens, { plan, where: 'step', counter, depth: 0 });
      if (!Object.keys(ops).length) continue;
      step = { type: 'ops', ...ops };
      count++;
    }
    plan.steps.push(step);
    if (count > MAX_STEPS) throw badTransformation(`at most ${MAX_STEPS} chained steps are allowed`);
  }
  return plan;
}

const isIfStart = (token: string) => token.startsWith('if-') && token !== 'if-else' && token !== 'if-end';

/** `block`: the block's steps (split at ":"), first token `if-<cond>`, last token `if-end`. */
function parseIfBlock(block: string[][], plan: TransformPlan, counter: { layers: number }): IfStep {
  const cond = parseCondition(block[0]![0]!.slice(3));
  const branches: string[][][] = [[[]]];
  block.forEach((stepTokens, s) => {
    const branch = () => branches[branches.length - 1]!;
    if (s > 0) branch().push([]);
    stepTokens.forEach((token, t) => {
      if (s === 0 && t === 0) return;
      if (s === block.length - 1 && t === stepTokens.length - 1) return; // if-end
      if (token === 'if-else') {
        if (branches.length > 1) throw badTransformation('if: only one if-else per block');
        branches.push([[]]);
        return;
      }
      if (token === 'if-end') throw badTransformation('if: if-end must close the block (nothing may follow it in the step)');
      if (isIfStart(token)) throw badTransformation('if: conditional blocks cannot be nested');
      branch()[branch().length - 1]!.push(token);
    });
  });
  const toOps = (steps: string[][]) => steps.filter((t) => t.length).map((t) => parseOps(t, { plan, where: 'if', counter, depth: 0 }));
  const step: IfStep = { type: 'if', cond, then: toOps(branches[0]!) };
  if (branches[1]) step.else = toOps(branches[1]);
  return step;
}
