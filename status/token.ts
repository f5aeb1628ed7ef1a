/**
 * The status page's access token: 32 random bytes, hex, in
 * `DATA/status.token` (mode 0600), created on first use.
 *
 * @module
 */

/** Path of the token file in a data directory. */
export function tokenPath(data: string): string {
  return `${data}/status.token`;
}

/** Reads the token, creating it (0600, exclusive) when missing. */
export async function loadOrCreateToken(data: string): Promise<string> {
  const p = tokenPath(data);
  try {
    const t = (await Deno.readTextFile(p)).trim();
    if (/^[0-9a-f]{64}$/.test(t)) return t;
    throw new Error(`${p}: not a status token (64 hex digits); delete it to make a new one`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(data, { recursive: true });
  const t = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  try {
    await Deno.writeTextFile(p, t + "\n", { createNew: true, mode: 0o600 });
  } catch (e) {
    // another process created it first: use theirs
    if (e instanceof Deno.errors.AlreadyExists) return loadOrCreateToken(data);
    throw e;
  }
  return t;
}

/** Constant-time string comparison (same length required). */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}
