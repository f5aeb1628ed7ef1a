/**
 * FFI plugin confinement on the VM's Debian 6.1 kernel, whose Landlock is
 * ABI 2 (no TCP rules, no scopes, no device-ioctl rule): the same escape
 * attempts as on the host (tests/hardware/_confine.ts). Filesystem rules
 * and the seccomp filter hold; TCP to another local port is NOT blocked by
 * Landlock below ABI 4 (only the seccomp socket rule of plugins without a
 * net grant stops TCP there), which this test asserts so a change shows.
 * Runs only inside the VM (`HWVM=1`).
 */
import { escapeChecks } from "../hardware/_confine.ts";
import { IN_VM } from "./_bushost.ts";

Deno.test({
  name:
    "hwvm confine: Landlock (kernel ABI) + seccomp on Debian 6.1 hold against the escape plugin",
  ignore: !IN_VM,
  fn: async () => {
    await escapeChecks("vm");
  },
});
