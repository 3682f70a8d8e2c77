/**
 * Address classification for outbound fetches (SSRF). Pure: takes an IP literal, says what kind of
 * network it belongs to. Everything that is not plain public unicast is refused by safe-fetch unless
 * the origin sets `allowPrivateNetwork`. IPv4 addresses embedded in IPv6 (mapped ::ffff:a.b.c.d,
 * compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32, ISATAP) are unwrapped
 * and classified as the IPv4 address they reach (imgproxy `privatenet`).
 */
import net from 'node:net';

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'reserved'
  | 'invalid';

type V4Rule = [base: number, bits: number, cls: AddressClass];

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** IPv4 ranges that are not public unicast (first match wins). */
const V4_RULES: V4Rule[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'cgnat'],
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'], // includes cloud metadata 169.254.169.254
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'], // IETF protocol assignments
  [v4(192, 0, 2, 0), 24, 'reserved'], // TEST-NET-1
  [v4(192, 88, 99, 0), 24, 'reserved'], // 6to4 relay anycast
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'], // benchmarking
  [v4(198, 51, 100, 0), 24, 'reserved'], // TEST-NET-2
  [v4(203, 0, 113, 0), 24, 'reserved'], // TEST-NET-3
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'], // includes 255.255.255.255
];

function inV4(addr: number, base: number, bits: number): boolean {
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  return ((addr & mask) >>> 0) === ((base & mask) >>> 0);
}

export function classifyV4(addr: number): AddressClass {
  for (const [base, bits, cls] of V4_RULES) if (inV4(addr, base, bits)) return cls;
  return 'public';
}

function parseV4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let out = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out = out * 256 + n;
  }
  return out >>> 0;
}

/** Eight 16-bit groups, or null. Accepts "::", an embedded dotted quad and a zone id (%eth0). */
function parseV6(text: string): number[] | null {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return null;
  if (s.includes('.', lastColon)) {
    // a trailing dotted quad stands for the last two groups
    const q = parseV4(s.slice(lastColon + 1));
    if (q === null) return null;
    s = `${s.slice(0, lastColon + 1)}${(q >>> 16).toString(16)}:${(q & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (![...head, ...tail].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const toN = (gs: string[]) => gs.map((g) => parseInt(g, 16));
  const total = head.length + tail.length;
  if (halves.length === 1) return total === 8 ? toN(head) : null;
  if (total > 7) return null;
  return [...toN(head), ...new Array<number>(8 - total).fill(0), ...toN(tail)];
}

const v4From = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;

export function classifyV6(g: number[]): AddressClass {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return 'unspecified';
  if (zeroTo(7) && g7 === 1) return 'loopback';
  if (zeroTo(5) && g5 === 0xffff) return classifyV4(v4From(g6, g7)); // ::ffff:a.b.c.d (mapped)
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return classifyV4(v4From(g6, g7)); // ::ffff:0:a.b.c.d (translated)
  if (zeroTo(6)) return classifyV4(v4From(g6, g7)); // ::a.b.c.d (compatible, deprecated)
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyV4(v4From(g6, g7)); // NAT64
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return 'private'; // local-use NAT64 64:ff9b:1::/48
  if (g0 === 0x2002) return classifyV4(v4From(g1, g2)); // 6to4
  if (g0 === 0x2001 && g1 === 0) {
    // Teredo: the client's IPv4 is the last 32 bits, inverted
    const client = classifyV4((v4From(g6, g7) ^ 0xffffffff) >>> 0);
    return client === 'public' ? classifyV4(v4From(g2, g3)) : client;
  }
  if ((g4 & 0xfdff) === 0 && g5 === 0x5efe) {
    // ISATAP interface identifier: the IPv4 address is embedded in the last 32 bits
    const inner = classifyV4(v4From(g6, g7));
    if (inner !== 'public') return inner;
  }
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return 'reserved'; // discard-only 100::/64
  if (g0 === 0x2001 && g1 === 0xdb8) return 'reserved'; // documentation
  if ((g0 & 0xfe00) === 0xfc00) return 'unique-local'; // fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return 'site-local'; // fec0::/10 (deprecated)
  if ((g0 & 0xff00) === 0xff00) return 'multicast';
  if ((g0 & 0xe000) !== 0x2000) return 'reserved'; // outside global unicast 2000::/3
  return 'public';
}

/** What kind of network an IP literal belongs to ("invalid" for anything that is not one). */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = net.isIP(bare.split('%')[0]!);
  if (family === 4) {
    const n = parseV4(bare);
    return n === null ? 'invalid' : classifyV4(n);
  }
  if (family === 6) {
    const g = parseV6(bare);
    return g === null ? 'invalid' : classifyV6(g);
  }
  return 'invalid';
}

export const isPublicAddress = (ip: string) => classifyAddress(ip) === 'public';
