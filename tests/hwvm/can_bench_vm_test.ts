/**
 * bench/hardware.ts --quick --can-only inside the VM (vcan0): the CAN part must
 * measure both sides and print its ratio line. Speed is reported, never
 * asserted. Runs only inside the VM (`HWVM=1`).
 */
import { assert, IN_VM } from "./_bushost.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "hwvm bench: bench/hardware.ts --quick prints the CAN plugin/direct ratio",
  ignore: !IN_VM,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--no-check",
        `${ROOT}bench/hardware.ts`,
        "--quick",
        "--can-only",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.code === 0, `bench/hardware.ts exited ${out.code}:\n${text.slice(-3000)}`);
    const lines = text.split("\n").filter((l) => l.startsWith("target: CAN"));
    assert(lines.length >= 1, `no CAN target line:\n${text.slice(-2000)}`);
    for (const l of lines) {
      assert(/\d+(\.\d+)?x (PASS|FAIL)/.test(l), `"${l}" has no ratio verdict`);
    }
    // A bench whose plugin side received nothing measured nothing: that is a broken bench.
    const pl = text.split("\n").find((l) => l.startsWith("can plugin")) ?? "";
    const got = Number(/\((\d+) received/.exec(pl)?.[1] ?? "0");
    assert(got > 0, `the plugin side received no frames: ${pl}`);
    console.log(
      text.split("\n").filter((l) => l.startsWith("can") || l.startsWith("target")).join("\n"),
    );
  },
});
