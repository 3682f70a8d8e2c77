/**
 * Facts about an original computed once per its bytes, not once per variant: the originals cache
 * hands out the very same Buffer for every render while it holds the original, so a WeakMap by
 * that Buffer remembers the fact exactly as long as the bytes live (a new or replaced original is
 * a new Buffer). Used for the header read (origin/src/limits.ts) and the type sniffing (delivery).
 */
export function oncePerBytes<T>(compute: (body: Buffer) => Promise<T>): (body: Buffer) => Promise<T> {
  const known = new WeakMap<Buffer, Promise<T>>();
  return (body) => {
    let fact = known.get(body);
    if (!fact) known.set(body, (fact = compute(body)));
    return fact;
  };
}
