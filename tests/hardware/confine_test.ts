/**
 * FFI plugin confinement on this machine's kernel (Landlock ABI 7 on the
 * build machines): the escape attempts of tests/hardware/_confine.ts, and
 * the pure parts (ruleset masks per ABI, the seccomp program, the
 * no-Landlock decision).
 */
import { confinementDecision } from "../../hardware/confine/mod.ts";
import { handledFs, handledNet, rulesetAttr, seccompProgram } from "../../hardware/confine/plan.ts";
import { assert, assertEq } from "../plugins/_helpers.ts";
import { escapeChecks } from "./_confine.ts";

Deno.test("confine: an FFI plugin cannot read /etc/shadow, open ungranted devices or connect (host kernel)", async () => {
  await escapeChecks("host");
});

Deno.test("confine: ruleset masks follow the ABI; seccomp program shape", () => {
  assertEq(handledFs(1), 0x1fff, "abi 1");
  assertEq(handledFs(2), 0x3fff, "abi 2 adds REFER");
  assertEq(handledFs(3), 0x7fff, "abi 3 adds TRUNCATE");
  assertEq(handledFs(5), 0xffff, "abi 5 adds IOCTL_DEV");
  assertEq([handledNet(3), handledNet(4), handledNet(4, true)], [0, 3, 1], "net");
  assertEq(
    [rulesetAttr(2).length, rulesetAttr(4).length, rulesetAttr(6).length],
    [8, 16, 24],
    "size",
  );
  const p = seccompProgram(true);
  assertEq(p.length % 8, 0, "sock_filter size");
  const dv = new DataView(p.buffer);
  // Last instruction: RET ALLOW; first: load arch.
  assertEq(dv.getUint32(p.length - 4, true), 0x7fff0000, "default allow");
  assertEq([dv.getUint16(0, true), dv.getUint32(4, true)], [0x20, 4], "load arch");
  assert(seccompProgram(false).length < p.length, "inet rule only when asked");
});

Deno.test("confine: without Landlock an FFI plugin is refused unless the policy allows it", () => {
  const refused = confinementDecision(true, [], false, undefined);
  assert(refused.refuse?.startsWith("confinement-unavailable"), "refused");
  const allowed = confinementDecision(true, [], true, undefined);
  assertEq([allowed.confine, allowed.refuse], [false, undefined], "allowed unconfined");
  assert(allowed.label.includes("no Landlock"), allowed.label);
  assertEq(
    confinementDecision(false, [], false, undefined).label,
    "deno permissions (no FFI)",
    "no ffi",
  );
});
