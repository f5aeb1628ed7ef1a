/**
 * The plugins under a real node process (issue #5 "Done means"): the
 * example vendor plugin and the serial plugin are installed with the CLI,
 * run under `serve` with the grants `plugin list` shows, and answer a real
 * client over TCP; events reach the calling session; `/healthz` shows the
 * buses.
 */
import { assert, assertEquals, assertRejects } from "../core/_assert.ts";
import { runCli, startServe } from "../_support/proc.ts";
import { Client } from "../../core/node/client.ts";
import { ErrorCode, type MyClerkError } from "../../core/errors.ts";
import { readKeyFile } from "../../core/node/keys.ts";
import { backend } from "../../core/crypto/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false }; // child processes are awaited in finally

Deno.test({
  name: "plugins under serve: vendor-echo and serial installed, granted, served, listed",
  ...opts,
  fn: async () => {
    const data = await Deno.makeTempDir({ prefix: "myclerk-plugins-" });
    const sysroot = `${data}/sysroot`;
    await Deno.mkdir(`${sysroot}/sys/class/tty/ttyUSB0/device`, { recursive: true });
    await Deno.copyFile(`${ROOT}plugins/policy.example.json`, `${data}/policy.json`);
    const cfg = `${data}/config.json`;
    await Deno.writeTextFile(cfg, JSON.stringify({ data, plugins: { busRoot: sysroot } }));
    for (const p of ["plugins/examples/vendor-echo", "plugins/serial"]) {
      const r = await runCli([
        "plugin",
        "install",
        `${ROOT}${p}`,
        "--data",
        data,
        "--policy",
        `${data}/policy.json`,
      ]);
      assertEquals(r.code, 0, r.stderr + r.stdout);
    }
    // The gate (docs/OPERATOR.md): plugin ranges serve the node's own family and granted keys only.
    const keyFile = `${data}/client.key`;
    const gen = await runCli(["keys", "generate", "--out", keyFile]);
    assertEquals(gen.code, 0, gen.stderr);
    const clientKeyId = /key id: ([0-9a-f]{8})/.exec(gen.stdout)![1];
    for (const range of ["0xF100-0xF2FF", "0x0610-0x061F"]) {
      const g = await runCli(["acl", "grant", clientKeyId, range, "--data", data]);
      assertEquals(g.code, 0, g.stderr);
    }
    const node = await startServe(["--config", cfg]);
    try {
      // Under load a plugin may still be starting after "node ready": wait until both run.
      const deadline0 = Date.now() + 20_000;
      for (;;) {
        const h = await (await fetch(`http://127.0.0.1:${node.httpPort}/healthz`)).json() as {
          plugins?: { state: string }[];
        };
        const states = (h.plugins ?? []).map((p) => p.state);
        if (states.length === 2 && states.every((s) => s === "running")) break;
        if (Date.now() > deadline0) throw new Error(`plugins not running: ${states}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const c = await Client.connect(`127.0.0.1:${node.tcpPort}`, {
        tier: 4,
        identity: await readKeyFile(backend(), keyFile),
      });
      const echo = await c.request(0xf100, { hello: "world" }) as Record<string, unknown>;
      assertEquals((echo.echo as Record<string, unknown>).hello, "world");
      const events: unknown[] = [];
      c.onPush((op, p) => op === 0xf103 && events.push(p));
      await c.request(0xf102, { count: 3 });
      const deadline = Date.now() + 5000;
      while (events.length < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(events.length, 3, "three TICK events reached this session");
      const refused = await assertRejects(c.request(0xf106, {})) as MyClerkError;
      assertEquals([refused.code, refused.message.includes("vendor-says-no")], [
        ErrorCode.BAD_REQUEST,
        true,
      ]);
      const ports = await c.request(0x0610, {}) as { ports: unknown[] };
      assert(Array.isArray(ports.ports), "serial plugin answered SERIAL_PORT_LIST");
      const unknown = await assertRejects(c.request(0xf200, {})) as MyClerkError;
      assertEquals(unknown.code, ErrorCode.NOT_FOUND);
      c.close();

      const list = await runCli([
        "plugin",
        "list",
        "--admin",
        `http://127.0.0.1:${node.httpPort}`,
        "--json",
      ]);
      assertEquals(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as {
        name: string;
        state: string;
        granted: Record<string, unknown>;
      }[];
      const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
      assertEquals(byName["vendor-echo"].state, "running");
      assertEquals(byName["serial"].state, "running");
      assert(
        JSON.stringify(byName["serial"].granted).includes("libc"),
        `serial granted FFI for libc: ${JSON.stringify(byName["serial"].granted)}`,
      );
      const text = await runCli(["plugin", "list", "--admin", `http://127.0.0.1:${node.httpPort}`]);
      assert(
        text.stdout.includes("vendor-echo") && text.stdout.toLowerCase().includes("0xf100"),
        text.stdout,
      );

      const metrics = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
      const reqs = /myclerk_plugin_requests_total\{plugin="vendor-echo"\} (\d+)/.exec(metrics);
      assert(reqs && Number(reqs[1]) >= 3, `per-plugin requests in /metrics:\n${metrics}`);
      assert(
        /myclerk_plugin_errors_total\{plugin="vendor-echo",code="BAD_REQUEST"\} [1-9]/.test(
          metrics,
        ),
        "per-plugin errors by code in /metrics",
      );
      assert(metrics.includes('myclerk_plugin_up{plugin="serial",state="running"} 1'));
      const health = await (await fetch(`http://127.0.0.1:${node.httpPort}/healthz`)).json();
      assert(
        health.buses.buses.some((b: { kind: string; present: boolean }) =>
          b.kind === "serial" && b.present
        ),
      );
      assertEquals(health.plugins.length, 2);
    } finally {
      await node.stop();
      await Deno.remove(data, { recursive: true });
    }
  },
});
