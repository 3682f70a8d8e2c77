/**
 * Declarative configuration specs (imgproxy-like: every module owns its spec — env name, default,
 * range, meaning — and the origin's main composes and validates all of them once at boot,
 * reporting every problem at once). Nothing here reads process.env: callers pass the environment.
 *
 * A spec is a record of fields; `readSpec` turns an environment into the typed config, pushing one
 * message per bad variable onto `problems`; `specDefaults` is the config with no environment;
 * `specProblems` checks a config built in code (tests) against the same ranges.
 */
export type Env = Record<string, string | undefined>;

export interface VarSpec<T> {
  /** The environment variable. */
  env: string;
  /** The value when the variable is unset or empty (a function when it depends on other settings). */
  default: T | ((env: Env) => T);
  /** What it means (docs). */
  doc: string;
  /** Raw text → value, or a problem text ("must be …"). */
  parse(raw: string): { value: T } | { problem: string };
  /** A problem with a value set in code, or undefined. */
  check(value: T): string | undefined;
}

export type ConfigSpec<T> = { readonly [K in keyof T]: VarSpec<T[K]> };

/** An integer in [min, max] (inclusive). */
export function int(env: string, dflt: number | ((env: Env) => number), doc: string, min = 0, max = Number.MAX_SAFE_INTEGER): VarSpec<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer ${min}–${max}`;
  const check = (v: number) => (Number.isInteger(v) && v >= min && v <= max ? undefined : `must be ${range}`);
  return {
    env,
    default: dflt,
    doc,
    parse(raw) {
      const t = raw.trim();
      const n = Number(t);
      if (!/^-?\d+$/.test(t) || !Number.isSafeInteger(n)) return { problem: `must be ${range}` };
      const p = check(n);
      return p ? { problem: p } : { value: n };
    },
    check,
  };
}

/** One of a fixed set of words. */
export function oneOf<const V extends string>(env: string, values: readonly V[], dflt: V, doc: string): VarSpec<V> {
  const allowed = `must be ${values.slice(0, -1).join(', ')}${values.length > 1 ? ' or ' : ''}${values.at(-1)}`;
  const check = (v: V) => (values.includes(v) ? undefined : allowed);
  return {
    env,
    default: dflt,
    doc,
    parse: (raw) => (values.includes(raw as V) ? { value: raw as V } : { problem: allowed }),
    check,
  };
}

/** Free text (a bucket name, a host). */
export function text(env: string, dflt: string | ((env: Env) => string), doc: string): VarSpec<string> {
  return { env, default: dflt, doc, parse: (raw) => ({ value: raw }), check: () => undefined };
}

const defaultOf = <T>(s: VarSpec<T>, env: Env): T => (typeof s.default === 'function' ? (s.default as (env: Env) => T)(env) : s.default);

/** The config `spec` describes, read from `env`; one line per bad variable goes onto `problems`. */
export function readSpec<T>(spec: ConfigSpec<T>, env: Env, problems: string[]): T {
  const out = {} as T;
  for (const key of Object.keys(spec) as (keyof T)[]) {
    const s = spec[key];
    const raw = env[s.env];
    if (raw === undefined || raw === '') {
      out[key] = defaultOf(s, env);
      continue;
    }
    const r = s.parse(raw);
    if ('problem' in r) {
      problems.push(`${s.env} ${r.problem} (got "${raw}")`);
      out[key] = defaultOf(s, env);
    } else out[key] = r.value;
  }
  return out;
}

export const specDefaults = <T>(spec: ConfigSpec<T>): T => readSpec(spec, {}, []);

/** Problems of a config built in code, named by the environment variable that would set it. */
export function specProblems<T>(spec: ConfigSpec<T>, config: T): string[] {
  const out: string[] = [];
  for (const key of Object.keys(spec) as (keyof T)[]) {
    const p = spec[key].check(config[key]);
    if (p) out.push(`${spec[key].env} ${p} (got ${JSON.stringify(config[key])})`);
  }
  return out;
}

/** Markdown rows `| env | default | meaning |` for docs. */
export function specTable<T>(spec: ConfigSpec<T>): string[] {
  return (Object.values(spec) as VarSpec<unknown>[]).map((s) => `| \`${s.env}\` | ${typeof s.default === 'function' ? '(derived)' : String(s.default)} | ${s.doc} |`);
}
