/** npm start --pretty-logs: JSON log lines become one readable line each; anything else passes through. */
import { describe, expect, it } from 'vitest';
import { prettyLine } from '../../scripts/pretty-log.js';

describe('prettyLine', () => {
  it.each([
    [
      'origin-eu-central-1',
      '{"t":"2026-12-01T20:01:02.345Z","level":"info","msg":"request","region":"eu-central-1","status":200,"ms":12.5,"hop":null}',
      '20:01:02 origin-eu-central-1  info  request status=200 ms=12.5',
    ],
    ['origin-us-east-1', '{"t":"2026-12-01T20:01:02.345Z","level":"error","msg":"boom","err":{"code":"E"}}', '20:01:02 origin-us-east-1     error boom err={"code":"E"}'],
    ['edge', '⎔ Starting local server...', '         edge                 ⎔ Starting local server...'],
    ['edge', '{"not":"a log line"}', '         edge                 {"not":"a log line"}'],
  ])('%s: %s', (name, line, want) => {
    expect(prettyLine(name, line)).toBe(want);
  });
});
