/**
 * The config keys of the gate and the connection table are validated with
 * messages that name the key and say what to put there (issue #9 case 6),
 * and `serve` refuses to start on them.
 */
import { assert, assertEquals } from "../_assert.ts";
import { validateConfig } from "../../../core/node/config.ts";
import { isMyClerkError } from "../../../core/errors.ts";
import { runCli } from "../../_support/proc.ts";

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw, "cfg.json");
  } catch (e) {
    assert(isMyClerkError(e) && Array.isArray(e.extra.problems), String(e));
    return e.extra.problems as string[];
  }
  return [];
}

Deno.test("config: limits and gate keys validated with the key and the fix", () => {
  const cases: [unknown, string][] = [
    [{ limits: { reservedShare: 2 } }, '"limits.reservedShare" must be a share from 0 to 0.9'],
    [{ limits: { reservedShare: -1 } }, '"limits.reservedShare" must be a share from 0 to 0.9'],
    [{ limits: { maxUnauthPerAddress: 0 } }, '"limits.maxUnauthPerAddress" must be a whole number'],
    [{ limits: { maxUnauthPerAddress: 2.5 } }, '"limits.maxUnauthPerAddress"'],
    [{ gate: { public: ["F100"] } }, '"gate.public.0" must be an opcode range "0xFIRST-0xLAST"'],
    [{ gate: { public: ["0x0001-0x0002"] } }, "core opcodes are never gated"],
    [{ gate: { public: ["0xF200-0xF100"] } }, "must be ascending"],
    [{ gate: { pub: [] } }, 'unknown key "gate.pub": remove it or check its spelling'],
  ];
  for (const [raw, want] of cases) {
    const p = problems(raw);
    assertEquals(p.length, 1, JSON.stringify(raw));
    assert(p[0].includes(want), `${JSON.stringify(raw)}: ${p[0]}`);
    assert(p[0].startsWith("cfg.json: "), "names the file");
  }
  const ok = validateConfig({ gate: { public: ["0xF100-0xF10F", "0xF200"] } });
  assertEquals(ok.gate.public.length, 2);
  assertEquals([ok.limits.maxUnauthPerAddress, ok.limits.reservedShare], [64, 0.1]);
});

Deno.test({
  name: "serve refuses a bad limits key at start, naming it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "myclerk-cfg-" });
    try {
      await Deno.writeTextFile(
        `${dir}/c.json`,
        JSON.stringify({ data: dir, limits: { reservedShare: 5 } }),
      );
      const r = await runCli([
        "serve",
        "--config",
        `${dir}/c.json`,
        "--tcp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
      ]);
      assertEquals(r.code, 1);
      assert(r.stderr.includes("limits.reservedShare"), r.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
