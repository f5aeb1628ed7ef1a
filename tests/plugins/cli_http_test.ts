/**
 * `plugin install | list | logs | reload` through commander, against a temp
 * data dir and a real node admin HTTP server (Hono on Deno.serve, loopback)
 * with the plugin routes mounted at /plugins.
 */
import { Command } from "commander";
import { Hono } from "hono";
import { registerPluginCommands } from "../../plugins/cli.ts";
import { pluginRoutes } from "../../plugins/http.ts";
import { PluginHost } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  writePolicy,
} from "./_helpers.ts";

async function run(args: string[]): Promise<{ lines: string[]; error?: string }> {
  const lines: string[] = [];
  const program = new Command().exitOverride();
  registerPluginCommands(program, { out: (l) => lines.push(l) });
  try {
    await program.parseAsync(args, { from: "user" });
    return { lines };
  } catch (e) {
    return { lines, error: e instanceof Error ? e.message : String(e) };
  }
}

Deno.test("plugin CLI: install, offline list, then list/logs/reload against a running node", async () => {
  const w = await makeWorld();
  await writePolicy(w, { plugins: { "vendor-echo": { read: ["$DATA"], write: ["$DATA"] } } });
  const closedPort = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  try {
    const data = ["--data", w.dataDir, "--policy", w.policyFile];
    const inst = await run(["plugin", "install", `${PLUGINS_SRC}/examples/vendor-echo`, ...data]);
    assertEq(inst.error, undefined, "install");
    assert(inst.lines[0].startsWith("installed vendor-echo 1.0.0"), inst.lines[0]);
    assert(
      await Deno.stat(`${w.pluginsDir}/vendor-echo/versions/1.0.0/mod.ts`).then(() => true),
      "staged as versions/1.0.0",
    );
    const again = await run(["plugin", "install", `${PLUGINS_SRC}/examples/vendor-echo`, ...data]);
    assert(again.error?.includes("already-installed"), again.error);

    // A vendor folder that claims a hardware range is refused at install time.
    const bad = `${w.root}/bad`;
    await Deno.mkdir(bad);
    await Deno.writeTextFile(`${bad}/mod.ts`, "export default { handlers: {} };");
    await Deno.writeTextFile(
      `${bad}/plugin.json`,
      JSON.stringify({
        name: "bad",
        version: "1.0.0",
        hostApi: "^1",
        ranges: [{ first: "0x0610", last: "0x0611" }],
      }),
    );
    // a development build (unsigned folder outside the node's plugins/): refused unless allowed
    const unsigned = await run(["plugin", "install", bad, ...data]);
    assert(unsigned.error?.includes("unsigned-plugin"), unsigned.error);
    const refused = await run(["plugin", "install", bad, "--allow-unsigned", ...data]);
    assert(refused.error?.includes("vendor plugin may claim only"), refused.error);

    // Offline list: no node answers on the admin URL.
    const off = await run([
      "plugin",
      "list",
      ...data,
      "--admin",
      `http://127.0.0.1:${closedPort}`,
      "--json",
    ]);
    const rows = JSON.parse(off.lines.join("\n"));
    assertEq(rows.map((r: { name: string; state: string }) => [r.name, r.state]), [[
      "vendor-echo",
      "not running",
    ]]);
    assertEq(rows[0].granted.write, [`${w.dataDir}/plugin-data/vendor-echo`]);

    // A running node with the admin routes.
    const host = await PluginHost.start({
      pluginsDir: w.pluginsDir,
      policyFile: w.policyFile,
      dataDir: w.dataDir,
    });
    const app = new Hono();
    app.route("/plugins", pluginRoutes(host));
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
    const adminUrl = `http://127.0.0.1:${server.addr.port}`;
    try {
      await host.dispatch({ opcode: 0xf100, tier: 1, payload: "x", peer: PEER });
      const on = await run(["plugin", "list", "--admin", adminUrl]);
      // The table: a header, then one row per plugin (REQUESTS 1, ERRORS 0).
      assert(/^NAME +VERSION +STATE .*REQUESTS +ERRORS/.test(on.lines[0]), on.lines[0]);
      assert(
        /^vendor-echo +1\.0\.0 +running +\S+ +0xF100-0xF10F +1 +0 +0 /.test(on.lines[1]),
        on.lines.join("\n"),
      );
      const rel = await run(["plugin", "reload", "vendor-echo", "--admin", adminUrl]);
      assertEq(rel.lines, ["reloaded vendor-echo (1.0.0, running)"]);
      const logs = await run(["plugin", "logs", "vendor-echo", "--admin", adminUrl]);
      assert(logs.lines.some((l) => l.includes("reloaded: version 1.0.0")), logs.lines.join("\n"));
      const one = await run(["plugin", "logs", "vendor-echo", "-n", "1", "--admin", adminUrl]);
      assertEq([one.error, one.lines.length], [undefined, 1], "-n 1: one line");
      // -n is validated before anything is asked (as every numeric option: core/cli/args.ts).
      for (const bad of ["abc", "0", "1001", "-3", "2.5"]) {
        const r = await run(["plugin", "logs", "vendor-echo", "-n", bad, "--admin", adminUrl]);
        assert(
          r.error?.includes(`-n must be a whole number from 1 to 1000, got "${bad}"`) &&
            r.lines.length === 0,
          `-n ${bad}: ${r.error}`,
        );
      }
      const missing = await fetch(`${adminUrl}/plugins/nope/logs`);
      assertEq(missing.status, 404);
      await missing.body?.cancel();
      const buses = await (await fetch(`${adminUrl}/plugins/buses`)).json();
      assertEq(buses.buses.length, 8);
    } finally {
      await server.shutdown();
      await host.close();
    }
  } finally {
    await dropWorld(w);
  }
});
