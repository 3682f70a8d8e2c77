/**
 * Child process: the hit path's floor — a bare Node HTTP server answering every GET with the same
 * bytes from memory (the bytes and headers of one cached variant, read from a file), keep-alive,
 * nothing else. It ignores the request: the bench sends it the very requests it sent the origin
 * (the signed internal render call: same path, query and headers, 457 bytes and 7 headers for
 * Node to parse), so the two sides differ only in what they do with them (bench/transform/run.ts).
 * argv: <file with the body> <content-type> <host> <port> [<JSON file of the answer's headers>]
 */
import fs from 'node:fs';
import http from 'node:http';

const [file, contentType, host, port, headersFile] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const body = fs.readFileSync(file);
/** The answer's headers: those of the origin's answer when given (the same response bytes but Date), else a minimal set. */
const headers: Record<string, string> = headersFile
  ? { ...(JSON.parse(fs.readFileSync(headersFile, 'utf8')) as Record<string, string>), 'content-length': String(body.length) }
  : {
      'content-type': contentType,
      'content-length': String(body.length),
      etag: '"bare"',
      'cache-control': 'public, max-age=31536000',
    };
const server = http.createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 30_000;
server.listen(Number(port), host, () => process.stdout.write(JSON.stringify({ ready: true }) + '\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
