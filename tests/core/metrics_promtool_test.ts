/**
 * `promtool check metrics` on live scrapes: a real relay carrying a plugin
 * (vendor-echo, with its REFUSE answer patched to carry a long detail) and
 * two real hubs, as `deno run main.ts serve` processes. Traffic: messages
 * between the hubs, a frame too large for the relay (a counted drop),
 * plugin calls, one answered with an ERROR whose detail is long. Each
 * node's `/metrics` must pass promtool with no output at all, have HELP and
 * TYPE for every series, only declared families, and label values inside
 * their declared rules (the long detail appears nowhere).
 *
 * Also: deploy/prometheus/ passes `promtool check config`, `check rules`
 * and `test rules` (the alerts fire on the series meant to trigger them).
 */

import { assert, assertEquals } from "./_assert.ts";
import { requireBinary } from "../_support/real.ts";
import { cliOk, Cluster, metric, readInbox, until } from "../federation/integration/_harness.ts";
import { Client } from "../../core/node/client.ts";
import { readKeyFile } from "../../core/node/keys.ts";
import { backend } from "../../core/crypto/mod.ts";
import { ErrorCode, type MyClerkError } from "../../core/errors.ts";
import { CORE, type LabelRule, type MetricSpec, OTHER } from "../../core/node/metrics.ts";
import { PROCESS } from "../../core/node/process_metrics.ts";
import { FED } from "../../federation/metrics.ts";
import { PLUGIN_METRICS } from "../../plugins/runtime/metrics.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PROM = `${ROOT}deploy/prometheus`;
const LONG_DETAIL = `vendor-says-no: ${"a-very-long-detail-".repeat(20)}with "quotes" and spaces`;

/** Every declared spec by family name. */
const SPECS = new Map<string, MetricSpec>(
  [CORE, FED, PLUGIN_METRICS, PROCESS].flatMap((o) => Object.values(o)).map((s) => [s.name, s]),
);

async function promtool(args: readonly string[], stdin?: string) {
  const p = new Deno.Command("promtool", {
    args: [...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await p.output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

/** A sample line split into family, labels and value (the exposition grammar, strictly). */
function parseSample(line: string): { name: string; labels: Map<string, string>; value: string } {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  if (!m) throw new Error(`bad sample line: ${line}`);
  const labels = new Map<string, string>();
  const body = m[3] ?? "";
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const l = re.exec(body);
    if (!l) throw new Error(`bad labels in ${line}`);
    labels.set(l[1], l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\"));
    pos = re.lastIndex;
  }
  return { name: m[1], labels, value: m[4] };
}

/** The checks every scrape must pass; returns the sample count. */
async function checkScrape(who: string, text: string): Promise<number> {
  const r = await promtool(["check", "metrics"], text);
  assertEquals(r.out.trim(), "", `${who}: promtool printed problems:\n${r.out}`);
  assertEquals(r.code, 0, `${who}: promtool exit ${r.code}`);
  assert(!text.includes("a-very-long-detail"), `${who}: the long detail reached /metrics`);
  const help = new Set<string>();
  const type = new Map<string, string>();
  let n = 0;
  const openValues = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const h = /^# HELP (\S+) \S/.exec(line);
    if (h) help.add(h[1]);
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) type.set(t[1], t[2]);
    if (line.startsWith("#")) continue;
    n++;
    const s = parseSample(line);
    let family = s.name;
    if (!type.has(family)) family = family.replace(/_(bucket|sum|count)$/, "");
    assert(help.has(family), `${who}: no HELP before ${line}`);
    assert(type.has(family), `${who}: no TYPE before ${line}`);
    const spec = SPECS.get(family);
    assert(spec !== undefined, `${who}: ${family} is not declared in any layer's metrics module`);
    assertEquals(type.get(family), spec.type, `${who}: TYPE of ${family}`);
    assert(
      family.startsWith("myclerk_") || family.startsWith("process_"),
      `${who}: prefix ${family}`,
    );
    for (const [k, v] of s.labels) {
      if (k === "le" && spec.type === "histogram") continue;
      const rule: LabelRule | undefined = spec.labels[k];
      assert(rule !== undefined, `${who}: ${family} has undeclared label ${k}`);
      if (Array.isArray(rule)) {
        assert(
          rule.includes(v) || v === OTHER,
          `${who}: ${family}{${k}="${v}"} outside its closed set`,
        );
      } else {
        const key = `${family}/${k}`;
        const seen = openValues.get(key) ?? new Set<string>();
        seen.add(v);
        openValues.set(key, seen);
        assert(seen.size <= (rule as { open: number }).open + 1, `${who}: ${key} over its cap`);
      }
    }
  }
  assertEquals(metric(text, CORE.undeclared.name), 0, `${who}: an undeclared metric was counted`);
  return n;
}

Deno.test({
  name:
    "metrics: promtool check metrics passes on live scrapes of a relay with a plugin and two hubs",
  ...requireBinary("promtool"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      // The relay's plugin: vendor-echo with REFUSE answering a long, quoted detail.
      const plug = `${c.dir}/vendor-echo`;
      await Deno.mkdir(plug, { recursive: true });
      await Deno.copyFile(
        `${ROOT}plugins/examples/vendor-echo/plugin.json`,
        `${plug}/plugin.json`,
      );
      const src = await Deno.readTextFile(`${ROOT}plugins/examples/vendor-echo/mod.ts`);
      const patched = src.replace(
        'fail(ErrorCode.BAD_REQUEST, "vendor-says-no")',
        `fail(ErrorCode.BAD_REQUEST, ${JSON.stringify(LONG_DETAIL)})`,
      );
      assert(patched !== src, "REFUSE handler found in vendor-echo");
      await Deno.writeTextFile(`${plug}/mod.ts`, patched);
      const rd = c.data("relay");
      await Deno.mkdir(rd, { recursive: true });
      await Deno.copyFile(`${ROOT}plugins/policy.example.json`, `${rd}/policy.json`);
      await cliOk([
        "plugin",
        "install",
        plug,
        "--allow-unsigned",
        "--data",
        rd,
        "--policy",
        `${rd}/policy.json`,
      ]);
      const keyFile = `${c.dir}/caller.key`;
      const gen = await cliOk(["keys", "generate", "--out", keyFile]);
      const caller = /key id: ([0-9a-f]{8})/.exec(gen)![1];
      await cliOk(["acl", "grant", caller, "0xF100-0xF10F", "--data", rd]);

      const relay = await c.serve("relay", ["--role", "relay"]);
      const alice = await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const carol = await c.joinedHub("carol", "relay", relay.tcp); // admitted, never started
      const ha = await c.serve("alice", ["--role", "hub"]);
      const hb = await c.serve("bob", ["--role", "hub"]);
      await ha.waitLog((j) => j.msg === "relay session up");
      await hb.waitLog((j) => j.msg === "relay session up");

      // messages both ways
      for (let i = 0; i < 3; i++) {
        const r = await ha.send(bob, `to-bob-${i}`, { wait: 10_000 });
        assertEquals(r.json.state, "stored");
      }
      const back = await hb.send(alice, "to-alice", { wait: 10_000 });
      assertEquals(back.json.state, "stored");
      await until(() => readInbox(c.data("bob")).total === 3, 15_000, "bob's inbox");
      await until(() => readInbox(c.data("alice")).total === 1, 15_000, "alice's inbox");
      // carol is offline: her message waits in the relay's mailbox, and its age is exported
      const toCarol = await ha.send(carol, "to-carol", { wait: 10_000 });
      assertEquals(toCarol.json.state, "stored");
      // The relay's queue gauges come from a stats snapshot refreshed behind the scrape
      // (federation/relay/status.ts): poll until a scrape shows the stored message.
      await until(
        async () => metric(await relay.metrics(), FED.queueMessages.name) === 1,
        10_000,
        "queued gauge shows carol's message",
      );
      const queued = await relay.metrics();
      assertEquals(metric(queued, FED.queueMessages.name), 1);
      const age = metric(queued, FED.queueAge.name, 'lane="mailbox"');
      assert(age >= 0 && age < 120, `mailbox age ${age} s`);
      assertEquals(metric(queued, FED.queueAge.name, 'lane="peer"'), 0);

      // a bad frame: a length prefix far over the limit is a counted drop (reason "frame")
      const [host, port] = relay.tcp.split(":");
      const raw = await Deno.connect({ hostname: host, port: Number(port) });
      await raw.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
      await until(
        async () => metric(await relay.metrics(), CORE.drops.name, 'reason="frame"') >= 1,
        10_000,
        "frame drop counted",
      );
      try {
        raw.close();
      } catch { /* the relay closed it */ }

      // plugin calls: an answer, and an ERROR with the long detail
      await until(
        async () => {
          const h = await relay.get("/healthz") as { plugins?: { state: string }[] };
          return h.plugins?.[0]?.state === "running";
        },
        20_000,
        "vendor-echo running",
      );
      const cl = await Client.connect(relay.tcp, {
        tier: 4,
        identity: await readKeyFile(backend(), keyFile),
      });
      try {
        const echo = await cl.request(0xf100, { hello: "metrics" }) as Record<string, unknown>;
        assertEquals((echo.echo as Record<string, unknown>).hello, "metrics");
        let refused: MyClerkError | undefined;
        try {
          await cl.request(0xf106, {});
        } catch (e) {
          refused = e as MyClerkError;
        }
        assertEquals(refused?.code, ErrorCode.BAD_REQUEST);
        assert(refused!.message.includes("a-very-long-detail"), "the client saw the long detail");
      } finally {
        cl.close();
      }

      const relayText = await relay.metrics();
      // the traffic is in the scrape, under the declared names
      // stored, or handed off to the online recipient and acked (FEDERATION.md §6.5)
      assert(
        metric(relayText, FED.stored.name) + metric(relayText, FED.handedOff.name) >= 4,
        "stored or handed off counted",
      );
      assertEquals(metric(relayText, PLUGIN_METRICS.requests.name, 'plugin="vendor-echo"'), 2);
      assertEquals(
        metric(relayText, PLUGIN_METRICS.errors.name, 'plugin="vendor-echo",code="BAD_REQUEST"'),
        1,
      );
      assertEquals(
        metric(relayText, CORE.requests.name, 'route="plugins",result="BAD_REQUEST"'),
        1,
      );
      assertEquals(
        metric(relayText, `${PLUGIN_METRICS.seconds.name}_count`, 'plugin="vendor-echo"'),
        2,
        "plugin latency histogram counts both answers",
      );
      assert(metric(relayText, `${CORE.handshakeSeconds.name}_count`) >= 3, "handshakes timed");
      assert(
        /^myclerk_build_info\{version="[^"]+",commit="[^"]+",deno="[^"]+"\} 1$/m.test(relayText),
      );
      for (
        const p of [
          "process_resident_memory_bytes",
          "process_cpu_seconds_total",
          "process_start_time_seconds",
          "process_open_fds",
        ]
      ) {
        assert(metric(relayText, p) > 0, `${p} present`);
      }
      const bobText = await hb.metrics();
      assertEquals(metric(bobText, FED.appDelivered.name), 3);
      assertEquals(metric(bobText, FED.hubConnected.name), 1);

      let total = 0;
      for (
        const [who, text] of [["relay", relayText], ["alice", await ha.metrics()], ["bob", bobText]]
      ) {
        total += await checkScrape(who, text);
      }
      assert(total > 100, `samples checked: ${total}`);
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name:
    "metrics: deploy/prometheus scrape config and alert rules pass promtool (config, rules, rule tests)",
  ...requireBinary("promtool"),
  fn: async () => {
    const cfg = await promtool(["check", "config", `${PROM}/prometheus.yml`]);
    assertEquals(cfg.code, 0, cfg.out);
    assert(/SUCCESS: 1 rule files found/.test(cfg.out), cfg.out);
    const rules = await promtool(["check", "rules", `${PROM}/myclerk.rules.yml`]);
    assertEquals(rules.code, 0, rules.out);
    assert(/SUCCESS: 5 rules found/.test(rules.out), rules.out);
    const t = await promtool(["test", "rules", `${PROM}/myclerk.rules.test.yml`]);
    assertEquals(t.code, 0, t.out);
    // every metric an alert reads is one the nodes declare
    const text = await Deno.readTextFile(`${PROM}/myclerk.rules.yml`);
    for (const name of new Set(text.match(/\bmyclerk_[a-z_]+\b/g) ?? [])) {
      assert(SPECS.has(name), `alert rule reads undeclared ${name}`);
    }
  },
});
