/**
 * The peer every crypto-bound bench compares with: `openssl speed -evp
 * chacha20-poly1305`, run in the same bench, parsed from its `-mr` output.
 *
 * @module
 */

/** True when an `openssl` binary is on PATH. */
export function haveOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Runs `openssl speed` for one size; returns bytes per second. With `cpu`,
 * per second of the process's CPU time (`openssl speed` without `-elapsed`),
 * which a busy machine disturbs far less than wall-clock time.
 *
 * @example const bps = await opensslSpeed(1024, 2);
 */
export async function opensslSpeed(
  size: number,
  seconds: number,
  aead = false,
  cpu = false,
): Promise<number> {
  const args = ["speed", "-mr", ...(cpu ? [] : ["-elapsed"]), "-seconds", String(seconds)];
  args.push("-bytes", String(size));
  if (aead) args.push("-aead");
  args.push("-evp", "chacha20-poly1305");
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = text.match(/^\+F:\d+:[^:]+:([0-9.]+)/m);
  if (!out.success || !m) {
    throw new Error(`openssl ${args.join(" ")} failed:\n${text.slice(0, 2000)}`);
  }
  return Number(m[1]);
}
