/**
 * Manifest, policy and range rules: errors name the field and the fix; the
 * grant is the intersection (refusals listed); core/vendor range rules; two
 * plugins on one opcode are refused with both names; host API versioning;
 * unknown opcodes get the profile's errors.
 */
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import { hostApiCompatible, parseManifest } from "../../plugins/manifest.ts";
import { computeGrant, parsePolicy, pathWithin } from "../../plugins/policy.ts";
import { checkClaim, RangeTable } from "../../plugins/ranges.ts";
import { processArgs } from "../../plugins/runtime/instance.ts";
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  PEER,
  startHost,
  writePlugin,
  writePolicy,
} from "./_helpers.ts";

const base = {
  name: "acme",
  version: "1.0.0",
  hostApi: "^1",
  ranges: [{ first: "0xF100", last: "0xF10F" }],
};

function throwsWith(f: () => unknown, ...needles: string[]): MyClerkError {
  try {
    f();
  } catch (e) {
    assert(e instanceof MyClerkError, `MyClerkError expected, got ${e}`);
    for (const n of needles) assert(e.message.includes(n), `"${e.message}" should mention "${n}"`);
    return e;
  }
  throw new Error("expected a throw");
}

Deno.test("manifest: valid one parses with defaults", () => {
  const m = parseManifest({ ...base, minTier: { "0xF105": 3 } });
  assertEq(m.ranges, [{ first: 0xf100, last: 0xf10f }]);
  assertEq(m.isolation, "process", "untrusted default isolation");
  assertEq(m.minTier.get(0xf105), 3);
  assertEq(m.limits.queue, 256);
});

Deno.test("manifest: errors name the field and the fix", () => {
  throwsWith(
    () => parseManifest({ ...base, name: "Bad Name" }),
    "manifest field name",
    "fix:",
    "lower-case",
  );
  throwsWith(
    () => parseManifest({ ...base, version: "one" }),
    "manifest field version",
    "semantic versioning",
  );
  throwsWith(
    () => parseManifest({ ...base, ranges: [{ first: "F100", last: "0xF10F" }] }),
    "ranges[0].first",
    "fix:",
  );
  throwsWith(
    () => parseManifest({ ...base, ranges: [{ first: "0xF10F", last: "0xF100" }] }),
    "ranges[0]",
    "swap",
  );
  throwsWith(
    () => parseManifest({ ...base, permissions: { spawn: ["sh"] } }),
    "permissions",
    "spawn",
    "allowed keys",
  );
  throwsWith(() => parseManifest({ ...base, colour: "red" }), "colour", "remove it");
  throwsWith(
    () => parseManifest({ ...base, minTier: { "0xF200": 3 } }),
    "minTier.0xF200",
    "outside",
  );
  throwsWith(
    () => parseManifest({ ...base, isolation: "worker", permissions: { ffi: ["libc"] } }),
    "isolation",
    "process",
  );
  const e = throwsWith(() => parseManifest({ name: "x" }), "version", "hostApi", "ranges");
  assertEq(e.code, ErrorCode.BAD_REQUEST);
});

Deno.test("host API versioning", () => {
  assert(hostApiCompatible("^1", "1.0"));
  assert(hostApiCompatible("^1.0", "1.3"));
  assert(!hostApiCompatible("^1.4", "1.3"), "minor too new");
  assert(!hostApiCompatible("^2", "1.0"), "other major");
});

Deno.test("policy: grant is the intersection, refusals listed", () => {
  const m = parseManifest({
    ...base,
    permissions: {
      net: ["api.acme.example:443", "evil.example:80"],
      read: ["$DATA/cache", "/etc"],
      write: ["$DATA"],
      env: ["ACME_TOKEN", "HOME"],
      ffi: ["libc"],
      buses: ["serial"],
    },
  });
  const policy = parsePolicy({
    version: 1,
    plugins: {
      acme: { net: ["api.acme.example"], read: ["$DATA"], write: ["$DATA"], env: ["ACME_*"] },
    },
  });
  const g = computeGrant(m, policy, { plugin: "/p/acme", data: "/d/acme" }, () => "/lib/libc.so.6");
  assertEq(g.net, ["api.acme.example:443"]);
  assertEq(g.read, ["/p/acme", "/d/acme/cache"], "own folder implicit, /etc refused");
  assertEq(g.write, ["/d/acme"]);
  assertEq(g.env, ["ACME_TOKEN"]);
  assertEq(g.ffi, []);
  assertEq(g.buses, []);
  assertEq(g.isolation, "process");
  assertEq(
    g.refused.map((r) => `${r.kind}:${r.value}`).sort(),
    ["buses:serial", "env:HOME", "ffi:libc", "net:evil.example:80", "read:/etc"],
  );
  // No policy entry and no default: nothing but the own folder; worker refused for process.
  const wm = parseManifest({ ...base, isolation: "worker", permissions: { net: ["a.example"] } });
  const none = computeGrant(
    wm,
    parsePolicy({ version: 1 }),
    { plugin: "/p/acme", data: "/d/acme" },
    () => undefined,
  );
  assertEq([none.net, none.write, none.isolation], [[], [], "process"]);
  assertEq(none.refused.map((r) => r.kind), ["net", "isolation"]);
  // Worker (no heap cap) and in-process need "trusted": an untrusted plugin falls back to process.
  for (const iso of [["worker"], ["inproc"], ["worker", "process"]]) {
    const g = computeGrant(
      wm,
      parsePolicy({ version: 1, default: { isolation: iso } }),
      { plugin: "/p/acme", data: "/d/acme" },
      () => undefined,
    );
    assertEq(g.isolation, "process", `untrusted with policy isolation ${iso}`);
    assert(
      g.refused.some((r) => r.kind === "isolation" && r.reason.includes("trusted")),
      `refusal names trust: ${JSON.stringify(g.refused)}`,
    );
  }
  const trustedWorker = computeGrant(
    wm,
    parsePolicy({ version: 1, default: { isolation: ["worker"], trusted: true } }),
    { plugin: "/p/acme", data: "/d/acme" },
    () => undefined,
  );
  assertEq(trustedWorker.isolation, "worker", "trusted plugin may run in a Worker");
  assert(!pathWithin("/d/acme/../etc", "/d/acme"), "no .. escapes");
  assert(!pathWithin("/d/acmex", "/d/acme"), "prefix is not containment");
  throwsWith(() => parsePolicy({ version: 2 }), "policy field version");
});

Deno.test("ranges: core belongs to the node, vendors only 0xF000-0xFFFE, conflicts name both", () => {
  throwsWith(() => checkClaim("x", [{ first: 0x00f0, last: 0x0100 }], true), "belongs to the node");
  throwsWith(() => checkClaim("x", [{ first: 0x0300, last: 0x0301 }], true), "federation");
  throwsWith(() => checkClaim("x", [{ first: 0x0100, last: 0x0101 }], true), "standard");
  throwsWith(() => checkClaim("x", [{ first: 0xfffe, last: 0xffff }], true), "reserved");
  throwsWith(
    () => checkClaim("acme", [{ first: 0x0610, last: 0x061f }], false),
    "vendor plugin may claim only",
  );
  checkClaim("serial", [{ first: 0x0610, last: 0x061f }], true);
  checkClaim("acme", [{ first: 0xf000, last: 0xfffe }], false);
  const t = RangeTable.empty().with("a", [{ first: 0xf100, last: 0xf10f }]);
  const e = throwsWith(
    () => t.with("b", [{ first: 0xf10f, last: 0xf120 }]),
    "plugins a and b",
    "0xF10F",
  );
  assertEq(e.extra.plugins, ["a", "b"]);
  const t2 = t.with("b", [{ first: 0xf110, last: 0xf11f }]);
  assertEq([t2.lookup(0xf10f), t2.lookup(0xf110), t2.lookup(0xf120)], ["a", "b", undefined]);
});

Deno.test("host: conflicting, vendor-out-of-range and future-API plugins are not started, with the reason", async () => {
  const w = await makeWorld();
  const src = `export default { handlers: { [0xF100]: () => 1 } };`;
  await writePlugin(w, { ...base, name: "alpha" }, src);
  await writePlugin(
    w,
    { ...base, name: "beta", ranges: [{ first: "0xF10A", last: "0xF11F" }] },
    src,
  );
  await writePlugin(
    w,
    { ...base, name: "gamma", ranges: [{ first: "0x0620", last: "0x062F" }] },
    src,
  );
  await writePlugin(w, {
    ...base,
    name: "delta",
    hostApi: "^2",
    ranges: [{ first: "0xF200", last: "0xF2FF" }],
  }, src);
  await writePolicy(w, {});
  const host = await startHost(w);
  try {
    const by = Object.fromEntries(host.list().map((s) => [s.name, s]));
    assertEq(by.alpha.state, "running");
    assertEq(by.beta.state, "invalid");
    assert(by.beta.reason!.includes("alpha") && by.beta.reason!.includes("beta"), by.beta.reason);
    assertEq(by.gamma.state, "invalid");
    assert(by.gamma.reason!.includes("vendor plugin may claim only"), by.gamma.reason);
    assertEq(by.delta.state, "not-started");
    assert(by.delta.reason!.includes("host-api-mismatch"), by.delta.reason);
    const d = (opcode: number, tier = 1) =>
      host.dispatch({ opcode, tier, payload: {}, peer: PEER });
    assertEq(await d(0xf100), { ok: true, payload: 1 });
    const cases: [number, number, number][] = [
      [0x0150, 1, ErrorCode.UNSUPPORTED], // standard range: reserved
      [0x0800, 1, ErrorCode.UNSUPPORTED], // unassigned
      [0xffff, 1, ErrorCode.UNSUPPORTED], // reserved
      [0xf900, 1, ErrorCode.NOT_FOUND], // vendor range, nobody home
      [0x0300, 3, ErrorCode.FORBIDDEN], // federation needs tier 4, checked first
      [0xf370, 2, ErrorCode.FORBIDDEN], // emergency range needs tier 3
    ];
    for (const [op, tier, code] of cases) {
      const r = await d(op, tier);
      assert(
        !r.ok && r.error.code === code,
        `0x${op.toString(16)} -> ${code}, got ${JSON.stringify(r)}`,
      );
    }
    const f = await d(0x0300, 3);
    assert(!f.ok && f.error.extra.requiredTier === 4, "requiredTier");
  } finally {
    await host.close();
    await dropWorld(w);
  }
});

Deno.test("process plugin: the child gets exactly the granted flags and nothing else", () => {
  const spec = {
    name: "acme",
    mode: "process" as const,
    entry: "/p/acme/mod.ts",
    runDir: "/d/.plugin-run",
    cwd: "/d/plugin-data/acme",
    net: ["api.acme.example:443"],
    read: ["/d/plugin-data/acme"],
    write: ["/d/plugin-data/acme"],
    env: ["ACME_TOKEN"],
    ffi: ["/lib/x86_64-linux-gnu/libc.so.6"],
    memoryMb: 96,
  };
  assertEq(processArgs(spec, "/d/.plugin-run/acme-1.js", "/d/.plugin-run/import_map.json"), [
    "run",
    "--no-prompt",
    "--no-config",
    "--import-map=/d/.plugin-run/import_map.json",
    // no remote code: denied, never fetched, never resolved (issue #9 case 3)
    "--deny-import",
    "--cached-only",
    "--no-remote",
    "--allow-read=/d/plugin-data/acme",
    "--allow-write=/d/plugin-data/acme",
    "--allow-net=api.acme.example:443",
    "--allow-env=ACME_TOKEN",
    "--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6",
    "--v8-flags=--max-old-space-size=96",
    "/d/.plugin-run/acme-1.js",
  ]);
  const bare = processArgs(
    { ...spec, net: [], read: [], write: [], env: [], ffi: [] },
    "/e.js",
    "/m.json",
  );
  assert(
    !bare.some((a) => a.startsWith("--allow")),
    `no grant, no --allow flag: ${bare.join(" ")}`,
  );
});
