/** npm start --pretty-logs: the children's JSON log lines (origin/src/log.ts) made readable. Pure. */

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { msg?: unknown }).msg === 'string' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `{"t":…,"level":"info","msg":"request","status":200}` → "12:00:01 origin-eu-central-1 info  request status=200"; other lines keep their text. */
export function prettyLine(name: string, line: string): string {
  const tag = name.padEnd(20);
  const o = parseJson(line);
  if (!o) return `${' '.repeat(8)} ${tag} ${line}`;
  // region/replica repeat the process name.
  const { t, level, msg, region: _region, replica: _replica, ...rest } = o;
  const time = typeof t === 'string' && t.length >= 19 ? t.slice(11, 19) : ' '.repeat(8);
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `${time} ${tag} ${String(level ?? 'info').padEnd(5)} ${String(msg)}${fields ? ` ${fields}` : ''}`;
}
