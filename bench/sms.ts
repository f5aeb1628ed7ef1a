/**
 * SMS bench (issue #13), two parts in one run:
 *
 * 1. AT part (gsm plugin): AT round trips per second through the plugin
 *    (GSM_SIGNAL_QUALITY = one `AT+CSQ` each, PluginHost.dispatch -> plugin
 *    process -> PTY -> modem emulator and back) against the same command
 *    written directly on the same emulator's PTY by this process (raw
 *    termios, poll(2) on a worker thread like the plugin), measured first,
 *    before the plugin opens the port. Target: plugin >= 0.5x direct.
 * 2. Classifier part (sms-gateway plugin): per-class precision/recall and
 *    extraction accuracy on the labelled corpus, added by the gateway's
 *    section below.
 *
 * Run: deno run --allow-all bench/sms.ts [--quick]
 *
 * @module
 */
import { resolveLibrary } from "../plugins/policy.ts";
import { startRig } from "../tests/gsm/_harness.ts";

const QUICK = Deno.args.includes("--quick");

// ============================================================ AT part (gsm plugin)

const AT_N = QUICK ? 300 : 3_000;
const AT_TARGET = 0.5;

const DIRECT_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

/** `AT+CSQ` written on the tty by hand, answer read up to `OK`: round trips per second. */
async function directRate(libc: string, path: string, n: number): Promise<number> {
  const lib = Deno.dlopen(libc, DIRECT_SYMBOLS);
  const s = lib.symbols;
  const fd = s.open(new TextEncoder().encode(path + "\0"), 0o2 | 0o400 | 0o4000);
  if (fd < 0) throw new Error(`cannot open ${path}`);
  const t = new Uint8Array(64);
  s.tcgetattr(fd, t);
  s.cfmakeraw(t);
  s.tcsetattr(fd, 0, t);
  const cmd = new TextEncoder().encode("AT+CSQ\r");
  const buf = new Uint8Array(512);
  const pfd = new Uint8Array(8);
  const dv = new DataView(pfd.buffer);
  const once = async () => {
    s.write(fd, cmd, BigInt(cmd.length));
    let acc = "";
    const end = performance.now() + 2000;
    while (!acc.includes("\r\nOK\r\n")) {
      if (performance.now() > end) throw new Error(`no OK: ${JSON.stringify(acc)}`);
      dv.setInt32(0, fd, true);
      dv.setInt16(4, 1, true);
      dv.setInt16(6, 0, true);
      await s.poll(pfd, 1n, 100);
      const r = Number(s.read(fd, buf, 512n));
      if (r > 0) acc += new TextDecoder().decode(buf.subarray(0, r));
    }
    if (!acc.includes("+CSQ:")) throw new Error(`no +CSQ: ${JSON.stringify(acc)}`);
  };
  // The emulator starts with echo on like a real modem; switch it off as the plugin does.
  s.write(fd, new TextEncoder().encode("ATE0\r"), 5n);
  await new Promise((r) => setTimeout(r, 100));
  s.read(fd, buf, 512n);
  for (let i = 0; i < 50; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  const rate = n / ((performance.now() - t0) / 1000);
  s.close(fd);
  lib.close();
  return rate;
}

async function atPart(): Promise<void> {
  const libc = resolveLibrary("libc");
  if (libc === undefined) throw new Error("libc not found");
  const rig = await startRig("sim7600");
  try {
    const direct = await directRate(libc, rig.emu.link, AT_N);
    await rig.ok(0x0670, { port: rig.emu.link });
    for (let i = 0; i < 50; i++) await rig.ok(0x0673, {});
    const before = rig.emu.commands.length;
    const t0 = performance.now();
    for (let i = 0; i < AT_N; i++) await rig.ok(0x0673, {});
    const plugin = AT_N / ((performance.now() - t0) / 1000);
    const csq = rig.emu.commands.slice(before).filter((c) => c === "AT+CSQ").length;
    if (csq !== AT_N) throw new Error(`expected ${AT_N} AT+CSQ on the line, saw ${csq}`);
    const ratio = plugin / direct;
    console.log(`AT round trips (AT+CSQ, sim7600 emulator on a PTY, ${AT_N} sequential):`);
    console.log(`  direct on the PTY      ${direct.toFixed(0).padStart(7)} /s`);
    console.log(`  through the gsm plugin ${plugin.toFixed(0).padStart(7)} /s`);
    console.log(
      `target: AT round trips through the plugin >= ${AT_TARGET}x direct on the PTY: ${
        ratio.toFixed(2)
      }x ${ratio >= AT_TARGET ? "PASS" : "FAIL"}`,
    );
  } finally {
    await rig.close();
  }
}

// ============================================================ classifier part (sms-gateway plugin)
// (added by the SMS gateway: corpus precision/recall/F1 per class and extraction accuracy)

// ============================================================ main

await atPart();
