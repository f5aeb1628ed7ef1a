/**
 * The 1-Wire plugin against Debian's owserver with its fake bus (two
 * servers started here on loopback and killed after: DS18B20 + DS2408, and a
 * single DS18B20), in its own process under PluginHost. The independent side
 * is ow-shell (`owdir`, `owread`) talking to the same owservers.
 *
 * /sys/bus/w1 is not present on this machine (no w1 core); the sysfs path of
 * the plugin is not exercised here (see docs/PLUGINS.md).
 */
import { ErrorCode } from "../../core/errors.ts";
import { crc8, fullRom, romBytes } from "../../hardware/onewire.ts";
import type { PluginHost } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  startHost,
  writePolicy,
} from "./_helpers.ts";
import { requireBinary } from "../_support/real.ts";

const OTHER = { ...PEER, sessionId: 11 };

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function ow(tool: "owdir" | "owread", port: number, path: string): Promise<string> {
  const out = await new Deno.Command("timeout", {
    args: ["5", tool, "-s", `127.0.0.1:${port}`, path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${tool} ${path}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

async function startOwserver(devices: string): Promise<{ port: number; child: Deno.ChildProcess }> {
  const port = freePort();
  const child = new Deno.Command("owserver", {
    args: [
      `--fake=${devices}`,
      "-p",
      `127.0.0.1:${port}`,
      "--foreground",
      "--temperature_low=20",
      "--temperature_high=30",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const end = performance.now() + 10_000;
  for (;;) {
    try {
      await ow("owdir", port, "/");
      return { port, child };
    } catch (e) {
      if (performance.now() > end) {
        child.kill("SIGKILL");
        throw e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

Deno.test({
  name: "onewire: plugin over owserver --fake (two servers), ow-shell as the other side",
  ...requireBinary("owserver", "owdir", "owread"),
  fn: async (t) => {
    const two = await startOwserver("DS18B20,DS2408");
    const one = await startOwserver("DS18B20");
    const w = await makeWorld();
    let host: PluginHost | undefined;
    const envBefore = Deno.env.get("MYCLERK_OWSERVER");
    try {
      Deno.env.set("MYCLERK_OWSERVER", `127.0.0.1:${two.port},127.0.0.1:${one.port}`);
      await copyDir(`${PLUGINS_SRC}/onewire`, `${w.pluginsDir}/onewire`);
      await writePolicy(w, {
        plugins: {
          onewire: { trusted: true, net: ["127.0.0.1"], env: ["MYCLERK_OWSERVER"] },
        },
      });
      host = await startHost(w);
      const h = host;
      const st = h.list().find((s) => s.name === "onewire")!;
      assertEq(st.state, "running", `onewire (${st.reason})`);
      const ok = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer });
        if (!r.ok) throw new Error(`0x${opcode.toString(16)}: ${r.error.code} ${r.error.detail}`);
        return r.payload as Record<string, unknown>;
      };
      const code = async (opcode: number, payload: unknown, peer = PEER) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer });
        return r.ok ? "ok" : `${r.error.code}:${r.error.detail}`;
      };
      const busTwo = `127.0.0.1:${two.port}/bus.0`;
      const busOne = `127.0.0.1:${one.port}/bus.0`;
      type Dev = { id: string; rom: string; family: string; type: string };

      await t.step("BUS_LIST: both owservers' bus.0; no kernel w1 here", async () => {
        const r = await ok(0x0660, {});
        const ids = (r.buses as { bus: string }[]).map((b) => b.bus);
        assert(ids.includes(busTwo) && ids.includes(busOne), JSON.stringify(ids));
        let w1 = false;
        try {
          w1 = Deno.statSync("/sys/bus/w1/devices").isDirectory;
        } catch { /* absent */ }
        assertEq(r.w1Sysfs, w1 && (r.w1Sysfs as boolean));
      });

      let devs: Dev[] = [];
      await t.step("SEARCH: ids, ROM with CRC and type agree with owdir/owread", async () => {
        devs = (await ok(0x0661, { bus: busTwo })).devices as Dev[];
        const listed = (await ow("owdir", two.port, "/bus.0")).split("\n").map((l) =>
          l.trim().split("/").pop()!
        ).filter((n) => /^[0-9A-F]{2}\./.test(n));
        assertEq(devs.map((d) => d.id).sort(), listed.sort(), "ids vs owdir");
        for (const d of devs) {
          assertEq(
            d.rom,
            (await ow("owread", two.port, `/${d.id}/address`)).trim(),
            "rom vs owread",
          );
          assertEq(
            d.type,
            (await ow("owread", two.port, `/${d.id}/type`)).trim(),
            "type vs owread",
          );
          assertEq(crc8(romBytes(d.id)), parseInt(d.rom.slice(14), 16), "CRC-8 of the ROM");
        }
        assertEq(devs.map((d) => d.type).sort(), ["DS18B20", "DS2408"]);
        assertEq((await ok(0x0661, { bus: busTwo, alarm: true })).devices, [], "alarm search");
        assertEq(await code(0x0661, { bus: "nope/bus.9" }), `${ErrorCode.NOT_FOUND}:no-such-bus`);
      });

      await t.step("RESET: presence pulse and device count", async () => {
        assertEq(await ok(0x0662, { bus: busTwo }), { presence: true, devices: 2 });
        assertEq(await ok(0x0662, { bus: busOne }), { presence: true, devices: 1 });
      });

      await t.step("READ_ROM: the single device's ROM; collision on a two-device bus", async () => {
        const r = await ok(0x0663, { bus: busOne });
        const listed = (await ow("owdir", one.port, "/bus.0")).split("\n").map((l) =>
          l.trim().split("/").pop()!
        ).filter((n) => /^28\./.test(n));
        assertEq(r.id, listed[0]);
        assertEq(r.rom, (await ow("owread", one.port, `/${listed[0]}/address`)).trim());
        assertEq(await code(0x0663, { bus: busTwo }), `${ErrorCode.BAD_REQUEST}:multiple-devices`);
      });

      const ds18 = () => devs.find((d) => d.type === "DS18B20")!;
      const ds2408 = () => devs.find((d) => d.type === "DS2408")!;

      await t.step("MATCH_ROM then READ; bad CRC, unknown ROM, nothing selected", async () => {
        assertEq(
          await code(0x0666, { property: "type" }),
          `${ErrorCode.BAD_REQUEST}:no-device-selected`,
        );
        const sel = await ok(0x0664, { bus: busTwo, rom: ds18().rom });
        assertEq(sel, { selected: ds18().id, rom: ds18().rom });
        const ty = await ok(0x0666, { property: "type" });
        assertEq(ty.text, "DS18B20");
        const temp = Number((await ok(0x0666, { property: "temperature" })).text);
        assert(temp >= 20 && temp <= 30, `temperature ${temp} outside the fake range`);
        const addr = await ok(0x0666, { property: "address" });
        assertEq(addr.text, ds18().rom);
        const part = await ok(0x0666, { property: "address", offset: 2, length: 4 });
        assertEq(part.text, ds18().rom.slice(2, 6), "offset/length");
        const badCrc = ds18().rom.slice(0, 14) +
          ((parseInt(ds18().rom.slice(14), 16) ^ 1).toString(16).padStart(2, "0"));
        assertEq(
          await code(0x0664, { bus: busTwo, rom: badCrc }),
          `${ErrorCode.BAD_REQUEST}:rom-crc`,
        );
        assertEq(
          await code(0x0664, { bus: busTwo, rom: "28.000000000001" }),
          `${ErrorCode.NOT_FOUND}:no-such-device`,
        );
        assertEq(
          await code(0x0666, { property: "../../etc" }),
          `${ErrorCode.BAD_REQUEST}:field:property`,
        );
        assertEq(
          await code(0x0666, { property: "nonexistent" }),
          `${ErrorCode.NOT_FOUND}:onewire-no-such-path`,
        );
        // Selections are per session: another session has none.
        assertEq(
          await code(0x0666, { property: "type" }, OTHER),
          `${ErrorCode.BAD_REQUEST}:no-device-selected`,
        );
      });

      await t.step("WRITE: DS2408 PIO accepted; a read-only property refused", async () => {
        await ok(0x0664, { bus: busTwo, rom: ds2408().id });
        assertEq(await ok(0x0667, { property: "PIO.0", data: new TextEncoder().encode("1") }), {
          device: ds2408().id,
          written: 1,
        });
        const ro = await code(0x0667, {
          property: "address",
          data: new TextEncoder().encode("00"),
        });
        // owserver answers -95 for a read-only property, -22 for a value it cannot parse.
        assertEq(ro, `${ErrorCode.FORBIDDEN}:onewire-read-only`, "address is read-only");
        assertEq(
          await code(0x0667, { property: "PIO.0", data: new TextEncoder().encode("zz") }),
          `${ErrorCode.BAD_REQUEST}:onewire-invalid-value`,
        );
        assertEq(await code(0x0667, { property: "PIO.0" }), `${ErrorCode.BAD_REQUEST}:field:data`);
      });

      await t.step(
        "SKIP_ROM: read on a one-device bus, collision on two, broadcast write",
        async () => {
          assertEq(await ok(0x0665, { bus: busOne }), { selected: "*", devices: 1 });
          assertEq((await ok(0x0666, { property: "type" })).text, "DS18B20");
          assertEq(await ok(0x0665, { bus: busTwo }), { selected: "*", devices: 2 });
          assertEq(
            await code(0x0666, { property: "type" }),
            `${ErrorCode.BAD_REQUEST}:skip-rom-read-collides`,
          );
          // Skip ROM + Convert T to every DS18B20 at once (owfs /simultaneous/temperature).
          assertEq(
            await ok(0x0667, { property: "temperature", data: new TextEncoder().encode("1") }),
            {
              device: "*",
              written: 1,
            },
          );
        },
      );

      await t.step("a session that ends loses its selection", async () => {
        await ok(0x0664, {
          bus: busOne,
          rom: fullRom((await ok(0x0663, { bus: busOne })).id as string),
        }, OTHER);
        assertEq((await ok(0x0666, { property: "type" }, OTHER)).text, "DS18B20");
        h.sessionClosed(OTHER.sessionId);
        const end = performance.now() + 5000;
        let c = "";
        while (performance.now() < end) {
          c = await code(0x0666, { property: "type" }, OTHER);
          if (c !== "ok") break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assertEq(c, `${ErrorCode.BAD_REQUEST}:no-device-selected`);
      });

      await t.step("owserver gone: SERVICE_UNAVAILABLE, not a crash", async () => {
        one.child.kill("SIGKILL");
        await one.child.status;
        assertEq(await code(0x0660, {}), `${ErrorCode.SERVICE_UNAVAILABLE}:owserver-unreachable`);
        assertEq(h.list().find((s) => s.name === "onewire")!.state, "running");
      });
    } finally {
      if (envBefore === undefined) Deno.env.delete("MYCLERK_OWSERVER");
      else Deno.env.set("MYCLERK_OWSERVER", envBefore);
      await host?.close();
      await dropWorld(w);
      for (const s of [two, one]) {
        try {
          s.child.kill("SIGKILL");
        } catch { /* already gone */ }
        await s.child.status;
      }
    }
  },
});
