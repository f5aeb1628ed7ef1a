/**
 * Helpers for suites that need a real server or system binary.
 *
 * A suite that needs `nats-server`, `socat`, `openssl`, ... calls
 * {@link requireBinary}. Outside CI a missing binary makes the test ignored
 * with the reason printed; with `MYCLERK_REQUIRE_REAL=1` (set by `.ci/run`)
 * it fails instead, so CI can never pass with a real-server suite skipped.
 *
 * @module
 */

/** Absolute path of `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
  for (const dir of path.split(":")) {
    const p = `${dir}/${name}`;
    try {
      const st = Deno.statSync(p);
      if (st.isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

/** True when CI demands every real-server suite to run. */
export const REQUIRE_REAL = Deno.env.get("MYCLERK_REQUIRE_REAL") === "1";

/**
 * Decides whether a real-part test can run. Returns `{ ignore: true }` (with
 * a printed reason) when a binary is missing outside CI; throws in CI.
 *
 * @example Deno.test({ name: "nats", ...requireBinary("nats-server"), fn })
 */
export function requireBinary(...names: string[]): { ignore: boolean } {
  const missing = names.filter((n) => which(n) === undefined);
  if (missing.length === 0) return { ignore: false };
  const why = `needs ${missing.join(", ")} (run: npx -y deno@2.9.6 task test, which installs them)`;
  if (REQUIRE_REAL) throw new Error(`real-server suite cannot run: ${why}`);
  console.error(`[skip] ${why}`);
  return { ignore: true };
}
