/**
 * The GPIO plugin on a real gpiolib (Debian 6.1 in the hwvm VM) with hwvm's
 * `gpio-testchip` (8 lines `hwvm0`..`hwvm7`, inputs driven through
 * `$HWVM_GPIO_LINES/N`, edge interrupts). The plugin runs in its own process
 * with FFI to libgpiod v1 only.
 *
 * Independent sides: `gpiodetect`/`gpioinfo` (chip and line state, consumer),
 * `gpioset` (another consumer holding a line), the chip's sysfs `lines/N`
 * (the level an output drives; the level an input sees).
 *
 * Not shown here: electrical bias (the chip has no set_config: the kernel
 * records the flag, nothing pulls), PWM (no pwmchip in this kernel: the
 * plugin answers UNSUPPORTED no-pwmchip).
 * Runs only inside the VM (`HWVM=1` with the test modules loaded).
 */
import { ErrorCode } from "../../core/errors.ts";
import { type PluginEvent, PluginHost } from "../../plugins/runtime/host.ts";
import type { PeerInfo } from "../../plugins/sdk/types.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  until,
  writePolicy,
} from "../plugins/_helpers.ts";

const CHIP = Deno.env.get("HWVM_GPIOCHIP") ?? "";
const LINES = Deno.env.get("HWVM_GPIO_LINES") ?? "";
const IN_VM = Deno.env.get("HWVM") === "1" && CHIP !== "" && LINES !== "";
const OTHER: PeerInfo = { ...PEER, sessionId: 12 };

async function run(cmd: string, ...args: string[]): Promise<{ ok: boolean; out: string }> {
  const o = await new Deno.Command("timeout", {
    args: ["5", cmd, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const td = new TextDecoder();
  return { ok: o.success, out: td.decode(o.stdout) + td.decode(o.stderr) };
}

/** `gpioinfo` of the chip: offset -> [name, consumer, direction, active]. */
async function gpioinfo(): Promise<Map<number, [string, string, string, string]>> {
  const { out } = await run("gpioinfo", CHIP.replace("/dev/", ""));
  const m = new Map<number, [string, string, string, string]>();
  for (const l of out.split("\n")) {
    const r =
      /line\s+(\d+):\s+("[^"]*"|unnamed)\s+("[^"]*"|unused)\s+(input|output)\s+(active-high|active-low)/
        .exec(l);
    if (r) m.set(Number(r[1]), [r[2].replace(/"/g, ""), r[3].replace(/"/g, ""), r[4], r[5]]);
  }
  return m;
}

const level = async (n: number) => (await Deno.readTextFile(`${LINES}/${n}`)).trim();
const drive = (n: number, v: "0" | "1" | "z") => Deno.writeTextFile(`${LINES}/${n}`, v);

Deno.test({
  name: "hwvm gpio: plugin drives gpio-testchip through libgpiod v1",
  ignore: !IN_VM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const w = await makeWorld();
    let host: PluginHost | undefined;
    let holder: Deno.ChildProcess | undefined;
    const events: PluginEvent[] = [];
    try {
      await copyDir(`${PLUGINS_SRC}/gpio`, `${w.pluginsDir}/gpio`);
      await writePolicy(w, {
        plugins: {
          gpio: {
            trusted: true,
            ffi: ["libgpiod"],
            buses: ["gpio"],
            read: ["/sys/class/pwm", "/sys/bus/gpio", "/sys/devices"],
            write: ["/sys/class/pwm"],
          },
        },
      });
      // Under TCG a plugin process needs well over the default 15 s to compile and start.
      host = await PluginHost.start({
        pluginsDir: w.pluginsDir,
        policyFile: w.policyFile,
        dataDir: w.dataDir,
        busRoot: "/",
        restartBaseMs: 50,
        startTimeoutMs: 90_000,
        log: (r) => w.logs.push(r),
      });
      const h = host;
      const state = () => h.list().find((s) => s.name === "gpio")!;
      await until(() => state().state === "running", 90_000, `gpio running (${state().reason})`);
      h.onEvent((ev) => {
        if (ev.plugin === "gpio") events.push(ev);
      });
      const ok = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer });
        if (!r.ok) {
          throw new Error(
            `0x${opcode.toString(16)}: ${r.error.code} ${r.error.detail} ${
              JSON.stringify(r.error.extra)
            }`,
          );
        }
        return r.payload as Record<string, unknown>;
      };
      const code = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer });
        return r.ok ? "ok" : `${r.error.code}:${r.error.detail}`;
      };

      await t.step(
        "CHIP_LIST and LINE_INFO agree with gpiodetect / gpioinfo; no pwmchip",
        async () => {
          const r = await ok(0x0620, {});
          const chips = r.chips as { path: string; name: string; label: string; lines: number }[];
          const c = chips.find((x) => x.path === CHIP)!;
          const det = (await run("gpiodetect")).out;
          assert(
            det.includes(`${c.name} [${c.label}] (${c.lines} lines)`),
            `gpiodetect: ${det} vs ${JSON.stringify(c)}`,
          );
          assertEq([c.label, c.lines], ["hwvm-gpio", 8]);
          assertEq(r.pwm, []);
          const info = (await ok(0x0621, { chip: CHIP })).lines as {
            offset: number;
            name: string;
            direction: string;
            used: boolean;
          }[];
          const gi = await gpioinfo();
          assertEq(
            info.map((l) => [l.offset, l.name, l.direction]),
            [...gi].map(([o, v]) => [o, v[0], v[2]]),
            "vs gpioinfo",
          );
          assertEq(
            await code(0x0621, { chip: CHIP, offset: 8 }),
            `${ErrorCode.BAD_REQUEST}:field:offset`,
          );
          assertEq(
            await code(0x0621, { chip: "/dev/gpiochip9" }),
            `${ErrorCode.FORBIDDEN}:chip-not-granted`,
          );
          assertEq(
            await code(0x0628, { chip: "pwmchip0", channel: 0, periodNs: 1000000 }),
            `${ErrorCode.UNSUPPORTED}:no-pwmchip`,
          );
          assertEq(
            await code(0x0629, { chip: "pwmchip0", channel: 0, dutyNs: 500000 }),
            `${ErrorCode.UNSUPPORTED}:no-pwmchip`,
          );
          assertEq(await code(0x0627, {}), `${ErrorCode.BAD_REQUEST}:event-only-opcode`);
        },
      );

      await t.step(
        "output: set/get, level on the chip, active-low, consumer in gpioinfo, held by one session",
        async () => {
          const a = await ok(0x0622, { chip: CHIP, offset: 2, direction: "output", value: 1 });
          assertEq(await level(2), "1");
          assertEq((await gpioinfo()).get(2)!.slice(1, 3), ["myclerk", "output"]);
          assertEq(await ok(0x0624, { handle: a.handle, value: 0 }), { value: 0 });
          assertEq(await level(2), "0");
          assertEq(await ok(0x0625, { handle: a.handle }), { value: 0 });
          const b = await ok(0x0622, {
            chip: CHIP,
            offset: 3,
            direction: "output",
            value: 1,
            activeLow: true,
          });
          assertEq(
            [await level(3), (b.info as { activeLow: boolean }).activeLow],
            ["0", true],
            "active-low 1 drives low",
          );
          assertEq((await gpioinfo()).get(3)![3], "active-low");
          assertEq(
            await code(0x0622, { chip: CHIP, offset: 2, direction: "input" }, OTHER),
            `${ErrorCode.SERVICE_UNAVAILABLE}:device-busy`,
          );
          assertEq(
            await code(0x0624, { handle: a.handle, value: 1 }, OTHER),
            `${ErrorCode.NOT_FOUND}:no-such-handle`,
          );
          const busy = await run("gpioget", CHIP.replace("/dev/", ""), "2");
          assert(!busy.ok, `gpioget on a held line must fail: ${busy.out}`);
          await ok(0x0623, { handle: a.handle });
          await ok(0x0623, { handle: b.handle });
          assertEq((await gpioinfo()).get(2)![1], "unused");
        },
      );

      await t.step(
        "input: levels driven on the chip; bias flag recorded; another consumer's line is busy",
        async () => {
          const a = await ok(0x0622, {
            chip: CHIP,
            offset: 4,
            direction: "input",
            bias: "pull-up",
          });
          assertEq((a.info as { bias: string }).bias, "pull-up");
          await drive(4, "1");
          assertEq(await ok(0x0625, { handle: a.handle }), { value: 1 });
          await drive(4, "0");
          assertEq(await ok(0x0625, { handle: a.handle }), { value: 0 });
          assertEq(
            await code(0x0624, { handle: a.handle, value: 1 }),
            `${ErrorCode.BAD_REQUEST}:line-not-output`,
          );
          assertEq(
            await code(0x0622, { chip: CHIP, offset: 5, direction: "input", drive: "open-drain" }),
            `${ErrorCode.BAD_REQUEST}:drive-needs-output`,
          );
          holder = new Deno.Command("gpioset", {
            args: ["--mode=signal", CHIP.replace("/dev/", ""), "6=1"],
            stdout: "null",
            stderr: "null",
          }).spawn();
          // Wait until gpioset holds line 6 (gpioinfo names its consumer), then ask for it.
          for (let i = 0; i < 100 && (await gpioinfo()).get(6)![1] !== "gpioset"; i++) {
            await new Promise((r) => setTimeout(r, 50));
          }
          const c = await code(0x0622, { chip: CHIP, offset: 6, direction: "input" });
          assertEq(c, `${ErrorCode.SERVICE_UNAVAILABLE}:line-busy`);
          holder.kill("SIGTERM");
          await holder.status;
          holder = undefined;
          await ok(0x0623, { handle: a.handle });
        },
      );

      await t.step("WATCH: edges pushed to the watching session, in order", async () => {
        await drive(1, "0");
        const wv = await ok(0x0626, { chip: CHIP, offset: 1, edge: "both" });
        const mine = () =>
          events.filter((e) => (e.payload as { handle: number }).handle === wv.handle);
        for (const v of ["1", "0", "1", "0"] as const) {
          const before = mine().length;
          await drive(1, v);
          await until(() => mine().length > before, 5000, `edge to ${v}`);
        }
        const got = mine().map((e) =>
          e.payload as { edge: string; seq: number; sec: number; nsec: number; dropped: number }
        );
        assertEq(got.map((g) => g.edge), ["rising", "falling", "rising", "falling"]);
        assertEq(got.map((g) => g.seq), [1, 2, 3, 4]);
        assert(
          mine().every((e) => e.sessionId === PEER.sessionId && e.opcode === 0x0627),
          "to the session that asked",
        );
        const ts = got.map((g) => g.sec * 1e9 + g.nsec);
        assert(ts.every((x, i) => i === 0 || x >= ts[i - 1]), "kernel timestamps in order");
        assertEq(await ok(0x0625, { handle: wv.handle }), { value: 0 });
        await ok(0x0623, { handle: wv.handle });
        const n = mine().length;
        await drive(1, "1");
        await new Promise((r) => setTimeout(r, 400));
        assertEq(mine().length, n, "no events after release");
        await drive(1, "0");
      });

      await t.step("WATCH is bounded: over maxRate, events are dropped and counted", async () => {
        const wv = await ok(0x0626, { chip: CHIP, offset: 0, edge: "both", maxRate: 2 });
        const mine = () =>
          events.filter((e) => (e.payload as { handle: number }).handle === wv.handle).map((e) =>
            e.payload as { seq: number; dropped: number }
          );
        const edges = 80;
        const t0 = performance.now();
        for (let i = 0; i < edges; i++) await drive(0, i % 2 === 0 ? "1" : "0");
        await until(() => mine().length >= 1, 5000, "first events");
        // One more edge after the bucket refills carries the count of what was dropped.
        await new Promise((r) => setTimeout(r, 1200));
        const before = mine().length;
        await drive(0, "1");
        await until(() => mine().length > before, 5000, "event after refill");
        const secs = (performance.now() - t0) / 1000;
        const got = mine();
        const last = got[got.length - 1];
        assert(last.dropped > 0, `dropped counted: ${JSON.stringify(last)}`);
        assert(
          got.length <= 16 + Math.ceil(2 * secs) + 1,
          `${got.length} events in ${secs} s at maxRate 2`,
        );
        assert(got.length + last.dropped <= edges + 1, "never more than happened");
        await ok(0x0623, { handle: wv.handle });
        await drive(0, "0");
      });

      await t.step("a session that ends releases its lines", async () => {
        await ok(0x0622, { chip: CHIP, offset: 5, direction: "output", value: 1 }, OTHER);
        await ok(0x0626, { chip: CHIP, offset: 7, edge: "rising" }, OTHER);
        assertEq((await gpioinfo()).get(5)![1], "myclerk");
        h.sessionClosed(OTHER.sessionId);
        let gi = await gpioinfo();
        for (
          let i = 0;
          i < 100 && (gi.get(5)![1] !== "unused" || gi.get(7)![1] !== "unused");
          i++
        ) {
          await new Promise((r) => setTimeout(r, 50));
          gi = await gpioinfo();
        }
        assertEq([gi.get(5)![1], gi.get(7)![1]], ["unused", "unused"]);
        const a = await ok(0x0622, { chip: CHIP, offset: 5, direction: "input" });
        await ok(0x0623, { handle: a.handle });
      });
    } finally {
      try {
        holder?.kill("SIGKILL");
        await holder?.status;
      } catch { /* gone */ }
      await host?.close();
      await dropWorld(w);
    }
  },
});
