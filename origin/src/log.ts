/** JSON lines on stdout/stderr; one object per event. */
type Fields = Record<string, unknown>;
let base: Fields = {};

export function setLogContext(fields: Fields): void {
  base = { ...base, ...fields };
}

function write(level: 'info' | 'warn' | 'error', msg: string, fields: Fields = {}): void {
  if (process.env.PIXMESH_LOG === 'silent') return;
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...base, ...fields });
  (level === 'error' ? process.stderr : process.stdout).write(line + '\n');
}

export const log = {
  info: (msg: string, fields?: Fields) => write('info', msg, fields),
  warn: (msg: string, fields?: Fields) => write('warn', msg, fields),
  error: (msg: string, fields?: Fields) => write('error', msg, fields),
};
