/**
 * The command line as a user runs it (real processes): two nodes, `ping`
 * between them over TCP and WebSocket at Tier 4 and Tier 5, `keys`,
 * `inspect`, config errors, `--help` and `--version`.
 */
import { assert, assertEquals } from "./_assert.ts";
import { runCli, startServe } from "../_support/proc.ts";

const opts = { sanitizeOps: false, sanitizeResources: false }; // child processes are awaited in finally

Deno.test({
  name: "cli: ping between two local nodes, Tier 4 and Tier 5, over TCP and WebSocket",
  ...opts,
  fn: async () => {
    const dirA = await Deno.makeTempDir();
    const dirB = await Deno.makeTempDir();
    const a = await startServe(["--data", dirA]);
    const b = await startServe(["--data", dirB]);
    try {
      for (const [from, to, dir] of [[a, b, dirA], [b, a, dirB]] as const) {
        for (const tier of [4, 5]) {
          for (const addr of [`127.0.0.1:${to.tcpPort}`, `ws://127.0.0.1:${to.httpPort}/myclerk`]) {
            const r = await runCli([
              "ping",
              addr,
              "--tier",
              String(tier),
              "--count",
              "2",
              "--key",
              `${dir}/node.key`,
              "--expect-key",
              to.keyId,
              "--json",
            ]);
            assertEquals(r.code, 0, r.stderr);
            const j = JSON.parse(r.stdout);
            assertEquals(j.tier, tier);
            assertEquals(j.peerKeyId, to.keyId);
            assertEquals(j.transport, addr.startsWith("ws") ? "ws" : "tcp");
            assertEquals(j.rttMs.length, 2);
            // The node saw the pinging node's static key (node A's or B's key file).
            assert(from.keyId.length === 8);
          }
        }
      }
      const text = await runCli(["ping", `127.0.0.1:${a.tcpPort}`, "--count", "1"]);
      assertEquals(text.code, 0);
      assert(/tier 5/.test(text.stdout) && /rtt/.test(text.stdout), text.stdout);
      const other = ((parseInt(a.keyId, 16) ^ 1) >>> 0).toString(16).padStart(8, "0");
      const wrong = await runCli(["ping", `127.0.0.1:${a.tcpPort}`, "--expect-key", other]);
      assertEquals(wrong.code, 1);
      assert(wrong.stderr.includes("UNAUTHORIZED"), wrong.stderr);
      const health = await (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).json();
      assertEquals([health.status, health.keyId], ["ok", a.keyId]);
      const logs = a.logs.map((l) => JSON.parse(l));
      assert(
        logs.some((l) => l.msg === "session established" && l.transport === "ws" && l.tier === 5),
      );
    } finally {
      await a.stop();
      await b.stop();
      await Deno.remove(dirA, { recursive: true });
      await Deno.remove(dirB, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli: keys generate writes 0600 and refuses to overwrite; keys show",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/k.key`;
      const r = await runCli(["keys", "generate", "--out", path]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
      const id = /key id: ([0-9a-f]{8})/.exec(r.stdout)![1];
      const again = await runCli(["keys", "generate", "--out", path]);
      assertEquals(again.code, 1);
      assert(again.stderr.includes("already exists"), again.stderr);
      const show = await runCli(["keys", "show", path]);
      assert(show.stdout.includes(id));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli: inspect decodes vectors and explains bad input",
  ...opts,
  fn: async () => {
    const hs = JSON.parse(
      await Deno.readTextFile(new URL("../../docs/vectors/handshake.json", import.meta.url)),
    );
    const ok = await runCli(["inspect", hs.m1]);
    assertEquals(ok.code, 0, ok.stderr);
    assert(
      ok.stdout.includes("SESSION_INIT") && ok.stdout.includes("Tier 4") &&
        ok.stdout.includes("trailer:") && ok.stdout.includes("ok"),
    );
    const viaStdin = await runCli(["inspect", "-"], new TextEncoder().encode(hs.m2 + "\n"));
    assert(viaStdin.stdout.includes("SESSION_ACK"), viaStdin.stdout);
    const bad = await runCli(["inspect", hs.m1.slice(0, 40)]);
    assertEquals(bad.code, 2);
    assert(bad.stdout.includes("INVALID: Tier 4 needs at least 56 bytes"), bad.stdout);
    const t5 = await runCli(["inspect", "2800010000"]);
    assert(t5.stdout.includes("E flag"), t5.stdout);
    const missing = await runCli(["inspect", "/nonexistent/file"]);
    assertEquals(missing.code, 1);
  },
});

Deno.test({
  name: "cli: config errors name the key and the fix; --help and --version",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const cfg = `${dir}/c.json`;
      await Deno.writeTextFile(
        cfg,
        JSON.stringify({ listen: { tcp: "nope" }, limits: { replayWindow: 1000 }, colour: 1 }),
      );
      const r = await runCli(["serve", "--config", cfg]);
      assertEquals(r.code, 1);
      assert(r.stderr.includes('"listen.tcp" must be "HOST:PORT"'), r.stderr);
      assert(r.stderr.includes('"limits.replayWindow" must be a power of two'), r.stderr);
      assert(r.stderr.includes('unknown key "colour"'), r.stderr);
      for (
        const cmd of [["--help"], ["serve", "--help"], ["keys", "generate", "--help"], [
          "inspect",
          "--help",
        ], ["ping", "--help"]]
      ) {
        const h = await runCli(cmd);
        assertEquals(h.code, 0);
        assert(h.stdout.includes("Usage: myclerk"), h.stdout);
      }
      const v = await runCli(["--version"]);
      assertEquals(v.code, 0);
      assert(
        /^myclerk-relay \d+\.\d+\.\d+ \(commit ([0-9a-f]{7}|unknown), deno \d+\.\d+\.\d+\)\n$/.test(
          v.stdout,
        ),
        v.stdout,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
