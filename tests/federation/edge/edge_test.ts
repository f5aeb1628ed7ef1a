/**
 * The edge relay under exactly the edge permissions
 * (`deno run --unstable-kv --allow-net --allow-env edge.ts`, a real child
 * process on loopback) with two real CLI hubs (`main.ts serve --role hub`,
 * own data dirs) joined over `ws://`: admission with invites from the
 * bearer-protected `/edge/invite`, a message A -> B, and a message sent
 * while B is stopped, kept across a restart of the edge (KV), delivered
 * when B starts again. Also: the edge module
 * graph holds no `node:sqlite`, no Worker or subprocess user, and the only
 * modules naming `Deno.dlopen` are the two crypto probes that check the
 * FFI permission first; inside the edge process that permission, file
 * reads and subprocesses are refused (reported by `/edge/status`).
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { cliOk, Cluster, freePort, readInbox, until } from "../integration/_harness.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const EDGE = `${ROOT}edge.ts`;

/** The edge permissions, exactly. */
const EDGE_FLAGS = ["--unstable-kv", "--allow-net", "--allow-env"] as const;

type Line = Record<string, unknown>;

/** The edge relay child: its log lines and address. */
class EdgeProc {
  readonly lines: Line[] = [];
  readonly child: Deno.ChildProcess;
  #reader: Promise<void>;
  http = "";

  constructor(env: Record<string, string>) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...EDGE_FLAGS, EDGE],
      env,
      clearEnv: true,
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.#reader = (async () => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const c of child.stderr) {
        buf += dec.decode(c, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            this.lines.push(JSON.parse(l));
          } catch {
            this.lines.push({ msg: "raw", line: l });
          }
        }
      }
    })();
  }

  async wait(pred: (l: Line) => boolean, ms = 20_000): Promise<Line> {
    return await until(() => this.lines.find(pred), ms, `edge log: ${JSON.stringify(this.lines)}`);
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.child.status;
    await this.#reader;
  }
}

Deno.test("edge module graph: no node:sqlite, no Workers or subprocesses, dlopen only behind the FFI check", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", EDGE],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const g = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; local?: string }[];
  };
  const specs = g.modules.map((m) => m.specifier);
  assert(specs.length > 50, `graph of ${specs.length} modules`);
  assert(!specs.some((s) => s.includes("sqlite")), "no sqlite module");
  assert(!specs.some((s) => s.startsWith("node:child_process")), "no child_process");
  const dlopen: string[] = [];
  for (const m of g.modules) {
    if (!m.specifier.startsWith("file:") || m.local === undefined) continue;
    const src = await Deno.readTextFile(m.local);
    const rel = m.specifier.slice(`file://${ROOT}`.length);
    assert(!/new Worker\(/.test(src), `${rel} starts a Worker`);
    assert(!/new Deno\.Command\(|Deno\.run\(/.test(src), `${rel} starts a subprocess`);
    assert(!/["']node:sqlite["']/.test(src), `${rel} imports node:sqlite`);
    if (/Deno\.dlopen\(/.test(src)) {
      dlopen.push(rel);
      // Every dlopen user asks for the FFI permission first (never granted at the edge).
      assert(/querySync\(\{ name: "ffi" \}\)/.test(src), `${rel} calls dlopen unguarded`);
    }
  }
  // The crypto back-end probes (core/crypto/mod.ts picks libcrypto only when FFI loads);
  // the edge passes the node:crypto back end, so they never run there.
  assertEquals(dlopen.sort(), ["core/crypto/frame_shim.ts", "core/crypto/libcrypto.ts"]);
});

Deno.test({
  name: "edge relay under edge permissions: two CLI hubs over ws://, delivery to an offline hub",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    const admin = crypto.randomUUID();
    const env: Record<string, string> = {
      // A fixed port: the hubs find the edge again after its restart.
      MYCLERK_EDGE_LISTEN: `127.0.0.1:${freePort()}`,
      MYCLERK_EDGE_PREFIX: `test-${crypto.randomUUID()}`,
      MYCLERK_EDGE_ADMIN_TOKEN: admin,
      MYCLERK_EDGE_CONFIG: JSON.stringify({ log: { format: "json" } }),
    };
    // Where Deno keeps the default KV database and the module cache.
    for (const k of ["HOME", "DENO_DIR", "PATH", "XDG_CACHE_HOME"]) {
      const v = Deno.env.get(k);
      if (v !== undefined) env[k] = v;
    }
    let edge = new EdgeProc(env);
    try {
      const up = await edge.wait((l) => l.msg === "edge relay listening");
      edge.http = String(up.http);
      assertEquals(up.store, "kv");
      const base = `http://${edge.http}`;
      const ws = `ws://${edge.http}`;
      // Admin needs the bearer token.
      const noAuth = await fetch(`${base}/edge/invite`, { method: "POST" });
      assertEquals(noAuth.status, 401);
      await noAuth.body?.cancel();
      const invite = async () => {
        const r = await fetch(`${base}/edge/invite?ttl=3600`, {
          method: "POST",
          headers: { authorization: `Bearer ${admin}` },
        });
        assertEquals(r.status, 200);
        return String((await r.json()).token);
      };
      const status = async () => {
        const r = await fetch(`${base}/edge/status`, {
          headers: { authorization: `Bearer ${admin}` },
        });
        assertEquals(r.status, 200);
        return await r.json() as {
          sandbox: Record<string, string>;
          relay: {
            localFamilies: number;
            queuedMessages: number;
            mailboxes: { family: string; depth: number }[];
          };
        };
      };
      // Inside the edge process: no file read, no subprocess, no FFI, no write.
      const sb = (await status()).sandbox;
      for (const p of ["read", "write", "run", "ffi"]) {
        assert(sb[p] !== "granted", `${p} must not be granted at the edge: ${sb[p]}`);
      }
      assertEquals(sb.fileRead, "refused");

      const a = await c.createFamily("alice");
      const b = await c.createFamily("bob");
      await cliOk(["hub", "join", ws, await invite(), "--data", c.data("alice")]);
      await cliOk(["hub", "join", ws, await invite(), "--data", c.data("bob")]);
      assertEquals((await status()).relay.localFamilies, 2);

      const ha = await c.serve("alice", ["--role", "hub"]);
      let hb = await c.serve("bob", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up", 20_000);
      await hb.waitLog((j) => j.msg === "relay session up", 20_000);

      // A -> B through the edge, acked "stored" before the CLI returns.
      const first = "edge-first-message";
      const sent = JSON.parse(
        await cliOk(
          ["send", "--to", b, "-", "--data", c.data("alice"), "--json"],
          new TextEncoder().encode(first),
        ),
      );
      assertEquals(sent.state, "stored");
      const in1 = await until(
        () => {
          const i = readInbox(c.data("bob"));
          return i.total >= 1 ? i : undefined;
        },
        15_000,
        "bob's first message",
      );
      assertEquals(in1.bodies.get(sent.mid), first);

      // B stops; A sends; the message waits in KV; B starts and gets it.
      await hb.stop("SIGTERM");
      const second = "edge-offline-message";
      const r2 = await ha.send(b, second, { wait: 10_000 });
      assertEquals(r2.json.state, "stored");
      const st = await status();
      assertEquals(st.relay.mailboxes.find((m) => m.family === b)?.depth, 1);
      // The edge restarts (its KV holds the message, the key, the admitted hubs): then B starts.
      const keyId = up.keyId;
      await edge.stop();
      assert(edge.lines.some((l) => l.msg === "relay stopping"), "graceful stop");
      edge = new EdgeProc(env);
      const up2 = await edge.wait((l) => l.msg === "edge relay listening");
      assertEquals([up2.keyId, up2.http], [keyId, up.http]);
      assert(!edge.lines.some((l) => String(l.msg).startsWith("generated node key")));
      assertEquals((await status()).relay.mailboxes.find((m) => m.family === b)?.depth, 1);
      hb = await c.serve("bob", ["--role", "hub"]);
      const in2 = await until(
        () => {
          const i = readInbox(c.data("bob"));
          return i.total >= 2 ? i : undefined;
        },
        15_000,
        "bob's offline message",
      );
      assertEquals(in2.bodies.get(String(r2.json.mid)), second);
      assertEquals(in2.total, 2);
      // Delivered-acked: gone from the edge's store.
      await until(
        async () => (await status()).relay.queuedMessages === 0,
        10_000,
        "edge queue empty",
      );
      // And the reply B -> A.
      const r3 = await hb.send(a, "edge-reply", { wait: 10_000 });
      assertEquals(r3.json.state, "stored");
      const inA = await until(
        () => {
          const i = readInbox(c.data("alice"));
          return i.total >= 1 ? i : undefined;
        },
        15_000,
        "alice's reply",
      );
      assertEquals(inA.bodies.get(String(r3.json.mid)), "edge-reply");
      assert(!edge.lines.some((l) => l.level === "error"), JSON.stringify(edge.lines));
    } finally {
      await edge.stop();
      await c.close();
    }
  },
});
