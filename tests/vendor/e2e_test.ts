/**
 * The vendor chapter of docs/PLUGINS.md, done exactly as written, with the
 * CLI only: a real `serve` child and real CLI processes. plugin new -> the
 * scaffold's own `deno check`/`deno test` in a folder outside the repo ->
 * publisher key -> pack + sign -> install (pinned key) -> call -> a new
 * version -> reload -> call -> rollback -> call; an unsigned folder and a
 * package signed by an unpinned key are refused.
 */
import { assert, assertEquals } from "../core/_assert.ts";
import { runCli, startServe } from "../_support/proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function deno(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, text: d.decode(out.stdout) + d.decode(out.stderr) };
}

async function ok(args: string[]): Promise<string> {
  const r = await runCli(args);
  assertEquals(r.code, 0, `${args.join(" ")}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

Deno.test({
  name: "vendor e2e: new -> own test -> pack+sign -> install -> call -> reload -> rollback",
  ...opts,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "myclerk-vendor-" });
    assert(!tmp.startsWith("/work/main"), "outside the repository");
    const src = `${tmp}/acme-hello`;
    const data = `${tmp}/data`;
    await Deno.mkdir(data);
    let node: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      await ok(["plugin", "new", "acme-hello", "--range", "0xF800-0xF80F", "--dir", src]);
      const check = await deno(["check", "mod.ts", "mod_test.ts"], src);
      assertEquals(check.code, 0, check.text);
      const test = await deno(["test", "-A"], src);
      assertEquals(test.code, 0, test.text);
      assert(/2 passed/.test(test.text), test.text);

      const pub = /public: ([0-9a-f]{64})/.exec(
        await ok(["plugin", "keys", "generate", "-o", `${tmp}/publisher.key`]),
      )![1];
      await ok(["plugin", "keys", "generate", "-o", `${tmp}/rogue.key`]);
      const policy = `${data}/policy.json`;
      await Deno.writeTextFile(
        policy,
        JSON.stringify({
          version: 1,
          default: { read: ["$DATA"], write: ["$DATA"] },
          publishers: [{ range: "0xF800-0xF80F", keys: [pub] }],
        }),
      );
      await ok(["plugin", "pack", src, "-o", `${tmp}/v1.mcp`, "--key", `${tmp}/publisher.key`]);
      await ok(["plugin", "verify", `${tmp}/v1.mcp`]);

      // Refused: an unsigned folder, and a package signed by a key the policy does not pin.
      const unsigned = await runCli(["plugin", "install", src, "--data", data, "--policy", policy]);
      assert(unsigned.code !== 0 && unsigned.stderr.includes("unsigned-plugin"), unsigned.stderr);
      await ok(["plugin", "pack", src, "-o", `${tmp}/rogue.mcp`, "--key", `${tmp}/rogue.key`]);
      const rogue = await runCli([
        "plugin",
        "install",
        `${tmp}/rogue.mcp`,
        "--data",
        data,
        "--policy",
        policy,
      ]);
      assert(rogue.code !== 0 && rogue.stderr.includes("publisher-not-pinned"), rogue.stderr);

      await ok(["plugin", "install", `${tmp}/v1.mcp`, "--data", data, "--policy", policy]);
      const idOut = await ok(["keys", "generate", "-o", `${tmp}/client.key`]);
      const keyId = /key id: ([0-9a-f]{8})/.exec(idOut)![1];
      await ok(["acl", "grant", keyId, "0xF800-0xF80F", "--data", data]);

      node = await startServe(["--data", data]);
      const tcp = `127.0.0.1:${node.tcpPort}`;
      const admin = `http://127.0.0.1:${node.httpPort}`;
      const key = ["--key", `${tmp}/client.key`];
      const call = (op: string, payload: string, ...more: string[]) =>
        runCli(["call", tcp, op, payload, ...key, ...more]);
      const hello = async (want: string) => {
        const r = await call("0xF800", '{"name":"ada"}', "-t", "3");
        assertEquals(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout);
        assertEquals([j.hello, j.version], ["ada", want], r.stdout);
      };
      await hello("0.1.0");

      const low = await call("0xF801", "{}", "-t", "2");
      assertEquals(low.code, 3, low.stderr);
      const e = JSON.parse(low.stderr);
      assertEquals(e.name, "FORBIDDEN", low.stderr);
      const bad = await call("0xF800", '{"name":""}');
      assertEquals(bad.code, 3, bad.stderr);
      const be = JSON.parse(bad.stderr);
      assertEquals([be.detail, be.extra.max], ["name-length", 64], bad.stderr);
      const usage = await call("0xF800", "[1]");
      assertEquals(usage.code, 2, usage.stderr);
      const none = await runCli(["call", "127.0.0.1:1", "0xF800", "{}", "--timeout", "2000"]);
      assertEquals(none.code, 4, none.stderr);

      // Over WebSocket, with the pushed event.
      const ws = await runCli([
        "call",
        `ws://127.0.0.1:${node.httpPort}`,
        "0xF800",
        '{"name":"bob"}',
        ...key,
        "--events",
        "--count",
        "1",
        "--timeout",
        "5000",
      ]);
      assertEquals(ws.code, 0, ws.stderr);
      const lines = ws.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(lines[0].answer.hello, "bob");
      assertEquals([lines[1].event, lines[1].payload.greeted], [0xf802, "bob"]);

      // Version 0.2.0: staged beside the running one, switched by reload.
      for (const f of ["plugin.json", "mod.ts"]) {
        const t = await Deno.readTextFile(`${src}/${f}`);
        await Deno.writeTextFile(`${src}/${f}`, t.replaceAll("0.1.0", "0.2.0"));
      }
      await ok(["plugin", "pack", src, "-o", `${tmp}/v2.mcp`, "--key", `${tmp}/publisher.key`]);
      await ok(["plugin", "install", `${tmp}/v2.mcp`, "--data", data, "--policy", policy]);
      await hello("0.1.0"); // not switched until reload
      await ok(["plugin", "reload", "acme-hello", "--admin", admin]);
      await hello("0.2.0");
      const list = JSON.parse(await ok(["plugin", "list", "--admin", admin, "--json"]));
      const row = list.find((r: { name: string }) => r.name === "acme-hello");
      assertEquals(
        [row.version, row.onDisk.installed, row.onDisk.current],
        ["0.2.0", ["0.1.0", "0.2.0"], "0.2.0"],
        JSON.stringify(row.onDisk),
      );
      // A downgrade by install needs the flag.
      const down = await runCli([
        "plugin",
        "install",
        `${tmp}/v1.mcp`,
        "--data",
        data,
        "--policy",
        policy,
        "--force",
      ]);
      assert(down.code !== 0 && down.stderr.includes("downgrade"), down.stderr);

      await ok(["plugin", "rollback", "acme-hello", "--data", data, "--admin", admin]);
      await hello("0.1.0");
      const logs = await ok(["plugin", "logs", "acme-hello", "--admin", admin]);
      assert(!logs.includes("exited with code 0"), `a drained instance is no crash:\n${logs}`);
    } finally {
      await node?.stop();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
