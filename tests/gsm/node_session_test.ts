/**
 * The gsm plugin under a real node process: installed with the CLI, its
 * port named in its own data dir's config.json, granted by the policy and
 * the ACL, driven by a real client session over TCP (INIT, SMS_SEND,
 * STATUS), and an SMS arriving at the emulated modem is pushed to that
 * session as GSM_SMS_RECEIVE. Lower tiers are refused by the plugin's minTier.
 */
import { assert, assertEquals, assertRejects } from "../core/_assert.ts";
import { runCli, startServe } from "../_support/proc.ts";
import { Client } from "../../core/node/client.ts";
import { ErrorCode, type MyClerkError } from "../../core/errors.ts";
import { readKeyFile } from "../../core/node/keys.ts";
import { backend } from "../../core/crypto/mod.ts";
import { REQUIRE_REAL } from "../_support/real.ts";
import { LIBC } from "./_harness.ts";
import { ModemEmulator } from "./emulator.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "gsm plugin under serve: a client session sends an SMS and gets the incoming one pushed",
  ignore: LIBC === undefined && !REQUIRE_REAL,
  sanitizeOps: false, // the node runs in a child process, stopped in finally
  sanitizeResources: false,
  fn: async () => {
    const data = await Deno.makeTempDir({ prefix: "myclerk-gsm-node-" });
    const sysroot = `${data}/sysroot`;
    await Deno.mkdir(`${sysroot}/sys/class/tty/ttyUSB2/device`, { recursive: true });
    await Deno.symlink(
      "../../../../bus/usb-serial/drivers/option",
      `${sysroot}/sys/class/tty/ttyUSB2/device/driver`,
    );
    const devDir = `${data}/dev`;
    await Deno.mkdir(devDir);
    const emu = await ModemEmulator.start({
      dialect: "ec25",
      libc: LIBC!,
      link: `${devDir}/modem`,
    });
    let node: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      const policy = `${data}/policy.json`;
      await Deno.writeTextFile(
        policy,
        JSON.stringify({
          version: 1,
          plugins: {
            gsm: {
              trusted: true,
              ffi: ["libc"],
              buses: ["modem"],
              read: ["$DATA", devDir, "/dev/pts"],
              write: ["$DATA", devDir, "/dev/pts"],
            },
          },
        }),
      );
      const cfg = `${data}/config.json`;
      await Deno.writeTextFile(cfg, JSON.stringify({ data, plugins: { busRoot: sysroot } }));
      const inst = await runCli([
        "plugin",
        "install",
        `${ROOT}plugins/gsm`,
        "--data",
        data,
        "--policy",
        policy,
      ]);
      assertEquals(inst.code, 0, inst.stderr + inst.stdout);
      // The operator's additions for this node: the emulator's link and PTYs, and the port.
      // install stages DATA/plugins/gsm/versions/X.Y.Z and points "next" at it (plugins/install.ts).
      const staged = (await Deno.readTextFile(`${data}/plugins/gsm/next`)).trim();
      const mf = `${data}/plugins/gsm/versions/${staged}/plugin.json`;
      const m = JSON.parse(await Deno.readTextFile(mf));
      m.permissions.read.push(devDir, "/dev/pts");
      m.permissions.write.push(devDir, "/dev/pts");
      await Deno.writeTextFile(mf, JSON.stringify(m));
      await Deno.mkdir(`${data}/plugin-data/gsm`, { recursive: true });
      await Deno.writeTextFile(
        `${data}/plugin-data/gsm/config.json`,
        JSON.stringify({ port: emu.link }),
      );
      const keyFile = `${data}/client.key`;
      const gen = await runCli(["keys", "generate", "--out", keyFile]);
      assertEquals(gen.code, 0, gen.stderr);
      const keyId = /key id: ([0-9a-f]{8})/.exec(gen.stdout)![1];
      const g = await runCli(["acl", "grant", keyId, "0x0670-0x067F", "--data", data]);
      assertEquals(g.code, 0, g.stderr);
      node = await startServe(["--config", cfg]);

      const identity = await readKeyFile(backend(), keyFile);
      const low = await Client.connect(`127.0.0.1:${node.tcpPort}`, { tier: 1, identity });
      const refused = await assertRejects(low.request(0x0670, {})) as MyClerkError;
      assertEquals(refused.code, ErrorCode.FORBIDDEN, "INIT needs tier 2");
      low.close();

      const c = await Client.connect(`127.0.0.1:${node.tcpPort}`, { tier: 2, identity });
      const pushed: { op: number; p: Record<string, unknown> }[] = [];
      c.onPush((op, p) => pushed.push({ op, p: p as Record<string, unknown> }));
      const init = await c.request(0x0670, {}) as Record<string, unknown>;
      assertEquals([init.dialect, init.state, init.port], ["ec25", "ready", emu.link]);
      const sent = await c.request(0x0674, { to: "+4917612345678", text: "Hallo vom Knoten" }) as {
        parts: number;
      };
      assertEquals(sent.parts, 1);
      assertEquals(emu.sent.at(-1)?.text, "Hallo vom Knoten");
      emu.injectSms({ from: "+4915112345678", text: "Ihr Code: 246810" });
      const deadline = Date.now() + 10_000;
      while (!pushed.some((x) => x.op === 0x0675) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const ev = pushed.find((x) => x.op === 0x0675);
      assert(ev !== undefined, `GSM_SMS_RECEIVE pushed to the session: ${JSON.stringify(pushed)}`);
      assertEquals([ev.p.kind, ev.p.from, ev.p.text], [
        "sms",
        "+4915112345678",
        "Ihr Code: 246810",
      ]);
      const st = await c.request(0x0671, {}) as Record<string, unknown>;
      assertEquals([st.state, st.subscribers], ["ready", 1]);
      c.close();
      // The node tells the plugin the session ended: its subscription goes with it.
      const c2 = await Client.connect(`127.0.0.1:${node.tcpPort}`, { tier: 2, identity });
      let subs = -1;
      for (let i = 0; i < 100 && subs !== 0; i++) {
        subs = ((await c2.request(0x0671, {})) as { subscribers: number }).subscribers;
        if (subs !== 0) await new Promise((r) => setTimeout(r, 50));
      }
      assertEquals(subs, 0, "closed session unsubscribed");
      c2.close();
    } finally {
      await node?.stop();
      await emu.stop();
      await Deno.remove(data, { recursive: true });
    }
  },
});
