/**
 * The USB and GPIO parts of bench/hardware.ts (bench/_hw_usb_gpio.ts
 * --quick) inside the VM: both must measure the plugin and the direct peer
 * and print their ratio lines. Speed is reported, never asserted. Runs only
 * inside the VM (`HWVM=1`).
 */
import { assert } from "../plugins/_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const IN_VM = Deno.env.get("HWVM") === "1";

Deno.test({
  name: "hwvm bench: USB bulk loopback and GPIO round trips, plugin vs direct",
  ignore: !IN_VM,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-check", `${ROOT}bench/_hw_usb_gpio.ts`, "--quick"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.code === 0, `bench exited ${out.code}:\n${text.slice(-3000)}`);
    const usb = text.split("\n").find((l) => l.startsWith("target: USB bulk"));
    assert(usb !== undefined && /\d+\.\d+x (PASS|FAIL)/.test(usb), `no USB ratio:\n${text}`);
    const gpio = text.split("\n").find((l) => l.startsWith("GPIO set/get"));
    assert(gpio !== undefined && /\d+\.\d+x/.test(gpio), `no GPIO ratio:\n${text}`);
    console.log(text.split("\n").filter((l) => /^(usb|gpio|target|GPIO)/.test(l)).join("\n"));
  },
});
