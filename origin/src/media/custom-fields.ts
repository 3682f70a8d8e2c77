/**
 * Custom metadata fields (customMetadataFields.create / list / update / delete) and the check of
 * files' customMetadata against them. The fields of an account live in its home bucket under
 * `_config/<account>/custom-metadata-fields.json` (the home region is their only writer; it keeps
 * them in memory after the first read). A deleted field is kept, marked, for `includeDeleted`.
 *
 * Schema rules, one table per type (SCHEMA_RULES): which constraints a type takes and what a value
 * must be. An account with no fields keeps free-form customMetadata; once it defines one, every
 * key of a file's customMetadata must be one of its fields.
 */
import { badRequest, notFound } from '../../../shared/errors.js';
import { newId, type MediaStore } from './store.js';

export type FieldType = 'Text' | 'Textarea' | 'Number' | 'Date' | 'Boolean' | 'SingleSelect' | 'MultiSelect';
type Scalar = string | number | boolean;

export interface FieldSchema {
  type: FieldType;
  defaultValue?: Scalar | Scalar[];
  isValueRequired?: boolean;
  minLength?: number;
  maxLength?: number;
  minValue?: string | number;
  maxValue?: string | number;
  selectOptions?: Scalar[];
}

export interface CustomField {
  id: string;
  name: string;
  label: string;
  description?: string;
  schema: FieldSchema;
  /** Kept for includeDeleted; never returned otherwise. */
  deleted?: boolean;
}

type Constraint = 'minLength' | 'maxLength' | 'minValue' | 'maxValue' | 'selectOptions';

/** Per type: the constraints it accepts, and the check of one value (an error text, or undefined). */
const SCHEMA_RULES: Record<FieldType, { constraints: Constraint[]; check: (v: unknown, s: FieldSchema) => string | undefined }> = {
  Text: { constraints: ['minLength', 'maxLength'], check: (v, s) => text(v, s) },
  Textarea: { constraints: ['minLength', 'maxLength'], check: (v, s) => text(v, s) },
  Number: {
    constraints: ['minValue', 'maxValue'],
    check: (v, s) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) return 'must be a number';
      if (typeof s.minValue === 'number' && v < s.minValue) return `must be at least ${s.minValue} (minValue)`;
      if (typeof s.maxValue === 'number' && v > s.maxValue) return `must be at most ${s.maxValue} (maxValue)`;
      return undefined;
    },
  },
  Date: {
    constraints: ['minValue', 'maxValue'],
    check: (v, s) => {
      const t = typeof v === 'string' ? Date.parse(v) : NaN;
      if (Number.isNaN(t)) return 'must be an ISO 8601 date';
      if (typeof s.minValue === 'string' && t < Date.parse(s.minValue)) return `must be on or after ${s.minValue} (minValue)`;
      if (typeof s.maxValue === 'string' && t > Date.parse(s.maxValue)) return `must be on or before ${s.maxValue} (maxValue)`;
      return undefined;
    },
  },
  Boolean: { constraints: [], check: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false') },
  SingleSelect: {
    constraints: ['selectOptions'],
    check: (v, s) => ((s.selectOptions ?? []).includes(v as Scalar) ? undefined : `must be one of ${JSON.stringify(s.selectOptions)} (selectOptions)`),
  },
  MultiSelect: {
    constraints: ['selectOptions'],
    check: (v, s) =>
      Array.isArray(v) && v.every((x) => (s.selectOptions ?? []).includes(x as Scalar))
        ? undefined
        : `must be an array of values from ${JSON.stringify(s.selectOptions)} (selectOptions)`,
  },
};

function text(v: unknown, s: FieldSchema): string | undefined {
  if (typeof v !== 'string') return 'must be a string';
  if (s.minLength !== undefined && v.length < s.minLength) return `must be at least ${s.minLength} characters (minLength)`;
  if (s.maxLength !== undefined && v.length > s.maxLength) return `must be at most ${s.maxLength} characters (maxLength)`;
  return undefined;
}

const TYPES = Object.keys(SCHEMA_RULES) as FieldType[];
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** A schema from a request body (create, or update merged onto the stored one); 400 naming the bad part. */
export function parseSchema(raw: unknown, at = 'schema'): FieldSchema {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest(`${at} must be an object`);
  const s = raw as Record<string, unknown>;
  if (!TYPES.includes(s.type as FieldType)) throw badRequest(`${at}.type must be one of ${TYPES.join(', ')}`);
  const type = s.type as FieldType;
  const rule = SCHEMA_RULES[type];
  const out: FieldSchema = { type };
  for (const [k, v] of Object.entries(s)) {
    if (k === 'type' || v === undefined) continue;
    if (k === 'isValueRequired') {
      if (typeof v !== 'boolean') throw badRequest(`${at}.isValueRequired must be a boolean`);
      out.isValueRequired = v;
    } else if (k === 'defaultValue') {
      if (!isScalar(v) && !(Array.isArray(v) && v.every(isScalar))) throw badRequest(`${at}.defaultValue must be a string, number, boolean or an array of them`);
      out.defaultValue = v as Scalar | Scalar[];
    } else if ((rule.constraints as string[]).includes(k)) {
      if (k === 'minLength' || k === 'maxLength') {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw badRequest(`${at}.${k} must be a non-negative integer`);
        out[k] = v;
      } else if (k === 'minValue' || k === 'maxValue') {
        if (type === 'Number' ? typeof v !== 'number' : typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw badRequest(`${at}.${k} must be ${type === 'Number' ? 'a number' : 'an ISO 8601 date'}`);
        out[k] = v as string | number;
      } else {
        if (!Array.isArray(v) || v.length === 0 || !v.every(isScalar) || v.length > 100) throw badRequest(`${at}.selectOptions must be a non-empty array (at most 100) of strings, numbers or booleans`);
        out.selectOptions = v as Scalar[];
      }
    } else throw badRequest(`${at}.${k} is not a constraint of type ${type} (it takes ${['defaultValue', 'isValueRequired', ...rule.constraints].join(', ')})`);
  }
  if ((type === 'SingleSelect' || type === 'MultiSelect') && !out.selectOptions) throw badRequest(`${at}.selectOptions is required for type ${type}`);
  const lo = out.minLength ?? out.minValue;
  const hi = out.maxLength ?? out.maxValue;
  if (lo !== undefined && hi !== undefined && (type === 'Date' ? Date.parse(String(lo)) > Date.parse(String(hi)) : Number(lo) > Number(hi)))
    throw badRequest(`${at}: the minimum is above the maximum`);
  if (out.defaultValue !== undefined) {
    const bad = rule.check(out.defaultValue, out);
    if (bad) throw badRequest(`${at}.defaultValue ${bad}`);
  }
  if (out.isValueRequired && out.defaultValue === undefined) throw badRequest(`${at}.defaultValue is required when isValueRequired is true`);
  return out;
}

const NAME = /^[A-Za-z0-9_-]{1,100}$/;
const fieldsKey = (accountId: string) => `_config/${accountId}/custom-metadata-fields.json`;

export class CustomFields {
  private readonly cache = new Map<string, Promise<CustomField[]>>();

  constructor(private readonly store: MediaStore) {}

  all(accountId: string): Promise<CustomField[]> {
    let p = this.cache.get(accountId);
    if (!p) {
      p = this.store.getJson<{ fields: CustomField[] }>(fieldsKey(accountId)).then((d) => d?.fields ?? []);
      this.cache.set(accountId, p);
      p.catch(() => this.cache.delete(accountId));
    }
    return p;
  }

  private async save(accountId: string, fields: CustomField[]): Promise<void> {
    await this.store.putJson(this.store.bucket, fieldsKey(accountId), { fields });
    this.cache.set(accountId, Promise.resolve(fields));
  }

  async create(accountId: string, body: Record<string, unknown>): Promise<CustomField> {
    const name = body.name;
    if (typeof name !== 'string' || !NAME.test(name)) throw badRequest('name is required: 1–100 characters of A-Z a-z 0-9 _ -');
    const label = body.label;
    if (typeof label !== 'string' || label.trim() === '' || label.length > 100) throw badRequest('label is required: 1–100 characters');
    if (body.description !== undefined && typeof body.description !== 'string') throw badRequest('description must be a string');
    const schema = parseSchema(body.schema);
    const fields = await this.all(accountId);
    const live = fields.filter((f) => !f.deleted);
    if (live.some((f) => f.name === name)) throw badRequest(`a field named "${name}" already exists`);
    if (live.some((f) => f.label === label)) throw badRequest(`a field labelled "${label}" already exists`);
    const field: CustomField = { id: newId(), name, label, schema, ...(typeof body.description === 'string' ? { description: body.description } : {}) };
    await this.save(accountId, [...fields, field]);
    return field;
  }

  async list(accountId: string, includeDeleted: boolean): Promise<CustomField[]> {
    return (await this.all(accountId)).filter((f) => includeDeleted || !f.deleted);
  }

  async update(accountId: string, id: string, body: Record<string, unknown>): Promise<CustomField> {
    const fields = await this.all(accountId);
    const at = fields.findIndex((f) => f.id === id && !f.deleted);
    if (at < 0) throw notFound('No such custom metadata field.');
    const cur = fields[at]!;
    for (const k of Object.keys(body)) if (!['label', 'description', 'schema'].includes(k)) throw badRequest(`${k} cannot be updated (label, description, schema)`);
    if (body.label !== undefined && (typeof body.label !== 'string' || body.label.trim() === '')) throw badRequest('label must be a non-empty string');
    if (body.description !== undefined && typeof body.description !== 'string') throw badRequest('description must be a string');
    if (body.schema !== undefined && (typeof body.schema !== 'object' || body.schema === null || 'type' in body.schema)) throw badRequest('schema must be an object without type (a field keeps its type)');
    const next: CustomField = {
      ...cur,
      ...(typeof body.label === 'string' ? { label: body.label } : {}),
      ...(typeof body.description === 'string' ? { description: body.description } : {}),
      schema: body.schema ? parseSchema({ ...cur.schema, ...(body.schema as object) }) : cur.schema,
    };
    if (fields.some((f, i) => i !== at && !f.deleted && f.label === next.label)) throw badRequest(`a field labelled "${next.label}" already exists`);
    await this.save(accountId, fields.map((f, i) => (i === at ? next : f)));
    return next;
  }

  async delete(accountId: string, id: string): Promise<void> {
    const fields = await this.all(accountId);
    if (!fields.some((f) => f.id === id && !f.deleted)) throw notFound('No such custom metadata field.');
    await this.save(accountId, fields.map((f) => (f.id === id ? { ...f, deleted: true } : f)));
  }

  /**
   * Checks a file's customMetadata (after an update's merge) against the account's fields and fills
   * in defaults for fields it lacks (uploads). 400 names the field and the rule it breaks.
   */
  async validate(accountId: string, metadata: Record<string, unknown>, applyDefaults: boolean): Promise<Record<string, unknown>> {
    const fields = (await this.all(accountId)).filter((f) => !f.deleted);
    if (fields.length === 0) return metadata;
    const out = { ...metadata };
    for (const [k, v] of Object.entries(metadata)) {
      const f = fields.find((x) => x.name === k);
      if (!f) throw badRequest(`customMetadata.${k}: no custom metadata field "${k}" is defined (${fields.map((x) => x.name).join(', ')})`);
      const bad = SCHEMA_RULES[f.schema.type].check(v, f.schema);
      if (bad) throw badRequest(`customMetadata.${k} ${bad}`);
    }
    for (const f of fields)
      if (out[f.name] === undefined) {
        if (applyDefaults && f.schema.defaultValue !== undefined) out[f.name] = f.schema.defaultValue;
        else if (f.schema.isValueRequired) throw badRequest(`customMetadata.${f.name} is required (isValueRequired)`);
      }
    return out;
  }
}
