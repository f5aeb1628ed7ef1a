/**
 * The operator CLI as an operator runs it (real processes, loopback): human
 * tables of `status`, `queue list`, `family list`, `plugin list` against a
 * relay with two hubs and a waiting message; usage errors exit 2; OS errors
 * name the address or path; role-specific options refused; failed dials
 * logged with the next retry delay; `--version` with the commit.
 */
import { assert, assertEquals } from "./_assert.ts";
import { cli, Cluster, freePort, until } from "../federation/integration/_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false }; // child processes awaited in close

/** The table lines under `title:` (indented two spaces) up to the next blank line. */
function block(out: string, title: string): string[] {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => l.trim() === `${title}:`);
  assert(i >= 0, `no "${title}:" in:\n${out}`);
  const rest = lines.slice(i + 1);
  const end = rest.findIndex((l) => l.trim() === "");
  return (end < 0 ? rest : rest.slice(0, end)).map((l) => l.trim());
}

Deno.test({
  name: "cli ops: status, queue list, family list as tables; --json keeps the shape",
  ...opts,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      const alice = await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp); // stays offline
      const ha = await c.serve("alice", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      const sent = await ha.send(bob, "x".repeat(2000), { wait: 10_000 });
      assertEquals(sent.json.state, "stored");

      const st = await cli(["status", "--data", c.data("relay")]);
      assertEquals(st.code, 0, st.stderr);
      assert(/^node: +[0-9a-f]{8} \(role relay, ok\)$/m.test(st.stdout), st.stdout);
      assert(/^uptime: +\d+(s|m\d\ds)$/m.test(st.stdout), st.stdout);
      const hubs = block(st.stdout, "hubs online");
      assert(/^FAMILY +SESSIONS +CREDIT +IN FLIGHT$/.test(hubs[0]), hubs.join("\n"));
      assertEquals(hubs.length, 2, hubs.join("\n"));
      assert(new RegExp(`^${alice} +1 +\\d+ +\\d+$`).test(hubs[1]), hubs[1]);
      const mb = block(st.stdout, "mailboxes");
      assert(/^FAMILY +MESSAGES +SIZE +OLDEST$/.test(mb[0]), mb.join("\n"));
      // bob's mailbox: one message of 2000 body bytes sealed (a few KiB), some seconds old.
      assert(new RegExp(`^${bob} +1 +\\d(\\.\\d)? KiB +\\d+s$`).test(mb[1]), mb.join("\n"));
      assert(!st.stdout.trimStart().startsWith("{"), "not JSON");
      const stJson = JSON.parse(
        (await cli(["status", "--data", c.data("relay"), "--json"])).stdout,
      );
      assertEquals(stJson.relay.hubs.length, 1);
      assertEquals(stJson.relay.mailboxes[0].depth, 1);

      const ql = await cli(["queue", "list", "--data", c.data("relay")]);
      assertEquals(ql.code, 0, ql.stderr);
      assert(/^relay: 1 messages queued, \d(\.\d)? KiB;/m.test(ql.stdout), ql.stdout);
      assert(new RegExp(`^  ${bob} +1 +\\d(\\.\\d)? KiB +\\d+s$`, "m").test(ql.stdout), ql.stdout);
      const qlJson = JSON.parse(
        (await cli(["queue", "list", "--data", c.data("relay"), "--json"]))
          .stdout,
      );
      assertEquals(qlJson.relay.queuedMessages, 1);
      const qh = await cli(["queue", "list", "--data", c.data("alice")]);
      assert(/^hub: outbox pending 0, stored 1,/m.test(qh.stdout), qh.stdout);

      const fl = await cli(["family", "list", "--data", c.data("relay")]);
      assertEquals(fl.code, 0, fl.stderr);
      const fams = block(fl.stdout, "families stored at this relay");
      assert(/^ID +NAME +LOCAL +HOME +QUEUED +SIZE +QUOTA$/.test(fams[0]), fams.join("\n"));
      assertEquals(fams.length, 3);
      const bobRow = fams.find((l) => l.startsWith(bob));
      assert(
        bobRow && /bob +yes +[0-9a-f]{8} +1 +\d(\.\d)? KiB +100,000 \/ 1 GiB$/.test(bobRow),
        bobRow,
      );
      const inv = block(fl.stdout, "invites");
      assertEquals(
        inv.filter((l) => / redeemed by [0-9a-f]{32}$/.test(l)).length,
        2,
        inv.join("\n"),
      );
      const own = await cli(["family", "list", "--data", c.data("alice")]);
      assert(new RegExp(`^  id: +${alice}$`, "m").test(own.stdout), own.stdout);
      assert(/^ {2}relay: +127\.0\.0\.1:\d+ \(key id [0-9a-f]{8}\)$/m.test(own.stdout), own.stdout);
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "cli ops: plugin list is a table (offline), with grants below",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const src = new URL("../../plugins/examples/vendor-echo", import.meta.url).pathname;
      const inst = await cli(["plugin", "install", src, "--data", dir]);
      assertEquals(inst.code, 0, inst.stderr);
      const l = await cli([
        "plugin",
        "list",
        "--data",
        dir,
        "--admin",
        `http://127.0.0.1:${freePort()}`,
      ]);
      assertEquals(l.code, 0, l.stderr);
      const lines = l.stdout.split("\n");
      assert(
        /^NAME +VERSION +STATE +ISOLATION +RANGES +REQUESTS +ERRORS +RESTARTS +P50 +P99$/.test(
          lines[0],
        ),
        lines[0],
      );
      assert(
        /^vendor-echo +1\.0\.0 +not running +\S+ +0xF100-0xF10F +- +- +- +- +-$/.test(lines[1]),
        lines[1],
      );
      assert(lines.includes("vendor-echo:"), l.stdout);
      assert(lines.some((x) => x.startsWith("  granted: ")), l.stdout);
      // The header's columns line up with the row's.
      assertEquals(lines[0].indexOf("STATE"), lines[1].indexOf("not running"));
      const j = JSON.parse(
        (await cli([
          "plugin",
          "list",
          "--data",
          dir,
          "--admin",
          `http://127.0.0.1:${freePort()}`,
          "--json",
        ]))
          .stdout,
      );
      assertEquals(j[0].name, "vendor-echo");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli ops: bad numbers exit 2 and say what is allowed; role-specific options refused",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (
        const [args, want] of [
          [
            ["ping", "-n", "abc", "127.0.0.1:1"],
            '-n must be a whole number from 1 to 100000, got "abc"',
          ],
          [
            ["ping", "-n", "0", "127.0.0.1:1"],
            '-n must be a whole number from 1 to 100000, got "0"',
          ],
          [
            ["ping", "--tier", "6", "127.0.0.1:1"],
            '--tier must be a whole number from 0 to 5, got "6"',
          ],
          [
            ["serve", "--data", dir, "--min-tier", "x"],
            "--min-tier must be a whole number from 0 to 5",
          ],
          [
            ["serve", "--data", dir, "--tcp", "127.0.0.1:99999"],
            "--tcp must be HOST:PORT with a port from 0 to 65535",
          ],
          [
            ["send", "--to", "ab", "--wait", "-5", "f", "--data", dir],
            "--wait must be a whole number of milliseconds",
          ],
          [
            ["family", "invite", "--ttl", "1.5", "--data", dir],
            "--ttl must be a whole number of seconds from 1",
          ],
          [
            ["family", "quota", "ab", "--max-bytes", "100", "--data", dir],
            "--max-bytes must be a whole number from 1024",
          ],
          [
            ["serve", "--data", dir, "--peer", "127.0.0.1:1"],
            "--peer applies to --role relay or both (this node is --role node); remove it or change --role",
          ],
          [
            ["serve", "--data", dir, "--role", "relay", "--relay", "127.0.0.1:1"],
            "--relay applies to --role hub or both (this node is --role relay)",
          ],
        ] as const
      ) {
        const r = await cli(args);
        assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert(r.stderr.includes(want), `${args.join(" ")}: ${r.stderr}`);
      }
      // A config key the role ignores: named with its file.
      const cfg = `${dir}/relay.json`;
      await Deno.writeTextFile(cfg, JSON.stringify({ federation: { relays: ["127.0.0.1:1"] } }));
      const r = await cli(["serve", "--data", dir, "--role", "relay", "--config", cfg]);
      assertEquals(r.code, 2, r.stderr);
      assert(
        r.stderr.includes(
          `${cfg}: "federation.relays" applies to --role hub or both (this node is role relay)`,
        ),
        r.stderr,
      );
      // Nothing was started or written for the refused serve.
      assertEquals(await Deno.stat(`${dir}/node.key`).then(() => true, () => false), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli ops: SIGHUP refuses a config key the role ignores and keeps the old config",
  ...opts,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const cfg = `${c.dir}/relay.json`;
      await Deno.writeTextFile(cfg, JSON.stringify({ federation: { quotaMessages: 100 } }));
      const relay = await c.serve("relay", ["--role", "relay", "--config", cfg]);
      await relay.waitLog((j) => j.msg === "node ready"); // the SIGHUP handler is set after it
      await Deno.writeTextFile(
        cfg,
        JSON.stringify({ federation: { quotaMessages: 5, relays: ["127.0.0.1:1"] } }),
      );
      relay.signal("SIGHUP");
      const r = await relay.waitLog((j) => j.msg === "config reload refused");
      assertEquals(r.problems, [
        `${cfg}: "federation.relays" applies to --role hub or both (this node is role relay); remove it or change the role`,
      ]);
      assert(!relay.logs.some((j) => j.msg === "config reloaded"), "nothing applied");
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "cli ops: OS errors name the address or path and the fix",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (held.addr as Deno.NetAddr).port;
    try {
      const tcp = await cli([
        "serve",
        "--data",
        dir,
        "--tcp",
        `127.0.0.1:${port}`,
        "--http",
        "127.0.0.1:0",
      ]);
      assertEquals(tcp.code, 1);
      assert(
        tcp.stderr.includes(
          `error: cannot listen on 127.0.0.1:${port}: address already in use (another myclerk or program holds it; stop it or pick another with --tcp HOST:PORT)`,
        ),
        tcp.stderr,
      );
      const http = await cli([
        "serve",
        "--data",
        dir,
        "--tcp",
        "127.0.0.1:0",
        "--http",
        `127.0.0.1:${port}`,
      ]);
      assertEquals(http.code, 1);
      assert(
        http.stderr.includes(`cannot listen on 127.0.0.1:${port}: address already in use`),
        http.stderr,
      );
      assert(http.stderr.includes("--http HOST:PORT"), http.stderr);
      assert(!/os error 98/.test(tcp.stderr + http.stderr), "raw OS text");

      const closed = freePort();
      const ping = await cli(["ping", `127.0.0.1:${closed}`, "-n", "1"]);
      assertEquals(ping.code, 1);
      assert(
        ping.stderr.includes(
          `cannot connect to node 127.0.0.1:${closed}: connection refused (nothing listens there: check that the node runs`,
        ),
        ping.stderr,
      );
      // hub join: a well-formed token (from a real relay dir) to a relay that is not running.
      const relayDir = `${dir}/relay`;
      const token = (await cli(["family", "invite", "--data", relayDir])).stdout.trim();
      const hubDir = `${dir}/hub`;
      assertEquals((await cli(["family", "create", "h", "--data", hubDir])).code, 0);
      const join = await cli(["hub", "join", `127.0.0.1:${closed}`, token, "--data", hubDir]);
      assertEquals(join.code, 1);
      assert(
        join.stderr.includes(`cannot connect to relay 127.0.0.1:${closed}: connection refused`),
        join.stderr,
      );

      // A data directory below a regular file; a key file that does not exist.
      await Deno.writeTextFile(`${dir}/file`, "x");
      const data = await cli([
        "serve",
        "--data",
        `${dir}/file/data`,
        "--tcp",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
      ]);
      assertEquals(data.code, 1);
      assert(data.stderr.includes(`${dir}/file/data`), data.stderr);
      assert(data.stderr.includes("data directory"), data.stderr);
      const key = await cli(["keys", "show", `${dir}/none.key`]);
      assertEquals(key.code, 1);
      assert(key.stderr.includes(`key file ${dir}/none.key: does not exist`), key.stderr);
      const send = await cli(["send", "--to", "ab", `${dir}/no-message`, "--data", dir]);
      assertEquals(send.code, 1);
      assert(
        send.stderr.includes(`message file ${dir}/no-message: does not exist`),
        send.stderr,
      );
      const logs = await cli(["plugin", "logs", "x", "--admin", `http://127.0.0.1:${closed}`]);
      assertEquals(logs.code, 1);
      assert(
        logs.stderr.includes(`cannot connect to http://127.0.0.1:${closed}/plugins/x/logs`) &&
          logs.stderr.includes("connection refused"),
        logs.stderr,
      );
      // A port out of range in the config file (the flag is refused by its parser, exit 2).
      await Deno.writeTextFile(
        `${dir}/c.json`,
        JSON.stringify({ listen: { tcp: "127.0.0.1:99999" } }),
      );
      const range = await cli(["serve", "--data", `${dir}/d`, "--config", `${dir}/c.json`]);
      assertEquals(range.code, 1);
      assert(
        range.stderr.includes("cannot listen on 127.0.0.1:99999: port 99999 is out of range"),
        range.stderr,
      );
      const recv = await cli(["recv", "--data", `${dir}/nothing`]);
      assertEquals(recv.code, 1);
      assert(
        recv.stderr.includes("not-a-hub") && recv.stderr.includes(`${dir}/nothing/hub.db`),
        recv.stderr,
      );
    } finally {
      held.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cli ops: an unreachable relay and peer are logged with the next retry, once per doubling",
  ...opts,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      await c.joinedHub("alice", "relay", relay.tcp);
      await relay.stop();
      const ha = await c.serve("alice", ["--role", "hub"]);
      const fails = () => ha.logs.filter((j) => j.msg === "relay dial failed");
      await until(
        () => fails().some((j) => Number(j.failures) >= 8),
        30_000,
        "8 failed dials logged",
      );
      const f = fails();
      assertEquals(f.map((j) => j.failures).slice(0, 4), [1, 2, 4, 8]);
      for (const j of f) {
        assertEquals(j.level, "warn");
        assertEquals(j.relay, relay.tcp);
        assert(
          String(j.error).includes(`cannot connect to relay ${relay.tcp}: connection refused`),
          String(j.error),
        );
        assert(Number(j.retryInMs) > 0 && Number(j.retryInMs) <= 1000, String(j.retryInMs));
      }

      // A relay whose peer is down: the same, for the peer.
      const closed = `127.0.0.1:${freePort()}`;
      const r2 = await c.serve("r2", ["--role", "relay", "--peer", `${closed}@0badc0de`]);
      const p = await r2.waitLog((j) => j.msg === "peer dial failed", 10_000);
      assertEquals([p.level, p.peer, p.failures], ["warn", closed, 1]);
      assert(
        String(p.error).includes(`cannot connect to peer relay ${closed}: connection refused`),
        String(p.error),
      );
      assert(Number(p.retryInMs) > 0, String(p.retryInMs));
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "cli ops: --version names the commit (git checkout, or COMMIT of an install)",
  ...opts,
  fn: async () => {
    const root = new URL("../..", import.meta.url).pathname;
    const head = () => {
      const g = new Deno.Command("git", {
        args: ["-C", root, "rev-parse", "--short=7", "HEAD"],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      return g.success ? new TextDecoder().decode(g.stdout).trim() : "unknown";
    };
    const before = head();
    const v = await cli(["--version"]);
    const after = head(); // other work may commit meanwhile
    assertEquals(v.code, 0, v.stderr);
    const m = /^myclerk-relay 0\.1\.0 \(commit (\S+), deno (\S+)\)\n$/.exec(v.stdout);
    assert(m, v.stdout);
    assert(m[1] === before || m[1] === after, `${m[1]} vs ${before}/${after}`);
    assertEquals(m[2], Deno.version.deno);

    // An install (deploy/install.sh's file set, no .git): the commit comes from COMMIT.
    const dir = await Deno.makeTempDir();
    try {
      const tar = new Deno.Command("bash", {
        args: [
          "-c",
          `tar -C ${root} -cf - --exclude='*_test.ts' main.ts deno.json deno.lock core federation plugins hardware status ops | tar -xf - -C ${dir}`,
        ],
      }).outputSync();
      assert(tar.success, new TextDecoder().decode(tar.stderr));
      const full = "0123456789abcdef0123456789abcdef01234567";
      await Deno.writeTextFile(`${dir}/COMMIT`, `${full}\n`);
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}/main.ts`, "--version"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(run.stdout);
      assertEquals(out, `myclerk-relay 0.1.0 (commit 0123456, deno ${Deno.version.deno})\n`);
      await Deno.remove(`${dir}/COMMIT`);
      const none = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}/main.ts`, "--version"],
        cwd: dir,
        stdout: "piped",
      }).output();
      assert(new TextDecoder().decode(none.stdout).includes("(commit unknown,"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
