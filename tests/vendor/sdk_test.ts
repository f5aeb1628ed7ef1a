/**
 * The standalone SDK, the test harness, the package signature and the
 * version pointers: unit level (the CLI path is tests/vendor/e2e_test.ts).
 */
import { assert, assertEquals } from "../core/_assert.ts";
import { ErrorCode as CoreCode, MyClerkError as CoreError } from "../../core/errors.ts";
import { ErrorCode, fail, MyClerkError } from "../../plugins/sdk/mod.ts";
import { testHost } from "../../plugins/sdk/testing.ts";
import vendorEcho, { VendorOp } from "../../plugins/examples/vendor-echo/mod.ts";
import {
  checkPublisher,
  decodePackage,
  encodePackage,
  signatureValid,
  signedBytes,
} from "../../plugins/signing.ts";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  commitVersion,
  compareVersions,
  resolveRunDir,
  stageRollback,
  stageVersion,
  versionState,
} from "../../plugins/install.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("sdk: error codes equal the node's; one error brand across both copies", () => {
  assertEquals({ ...ErrorCode }, { ...CoreCode });
  const e = new MyClerkError(ErrorCode.NOT_FOUND, "x");
  assert(e instanceof CoreError, "an SDK error is a core MyClerkError");
  assert(new CoreError(CoreCode.BAD_REQUEST, "y") instanceof MyClerkError, "and back");
  assert(!(new Error("z") instanceof MyClerkError), "a plain Error is not");
});

Deno.test("sdk: the SDK folder imports nothing outside itself", async () => {
  for (const f of ["mod.ts", "errors.ts", "types.ts", "testing.ts"]) {
    const t = await Deno.readTextFile(new URL(`../../plugins/sdk/${f}`, import.meta.url));
    for (const m of t.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)) {
      assert(m[1].startsWith("./") && !m[1].includes(".."), `${f} imports ${m[1]}`);
    }
  }
});

Deno.test("harness: vendor-echo on the standalone SDK (tiers, errors, events to callers only)", async () => {
  const host = await testHost(vendorEcho, { minTier: { [VendorOp.ADMIN]: 3 } });
  const s = host.session({ tier: 2 });
  const up = await s.call(VendorOp.UPPER, { text: "abc" });
  assertEquals(up, { ok: true, payload: { text: "ABC" } });
  const low = await s.call(VendorOp.ADMIN, {});
  assert(
    !low.ok && low.detail === "tier-below-minimum" && low.extra["required-tier"] === 3,
    JSON.stringify(low),
  );
  const bad = await s.call(VendorOp.UPPER, { text: 1 });
  assert(
    !bad.ok && bad.detail === "field:text" && bad.extra.expected === "string",
    JSON.stringify(bad),
  );
  const tick = await s.call(VendorOp.TICK, { count: 2 });
  assert(tick.ok, JSON.stringify(tick));
  const evs = await s.waitEvents(2);
  assertEquals(evs.map((e) => e.opcode), [VendorOp.TICK_EVENT, VendorOp.TICK_EVENT]);
  const other = host.session();
  assertEquals(other.events().length, 0, "a session that never called gets nothing");
  await host.close();
});

Deno.test("harness: undeclared events are dropped; sessionClosed runs; init throw refuses", async () => {
  const closed: number[] = [];
  const def = {
    events: [0xf802],
    handlers: {
      [0xf800]: (
        _p: unknown,
        ctx: { emit(o: number, p: unknown, s?: number): void; peer: { sessionId: number } },
      ) => {
        ctx.emit(0xf803, {}, ctx.peer.sessionId);
        ctx.emit(0xf802, { ok: 1 }, ctx.peer.sessionId);
        return {};
      },
      [0xf801]: () => fail(ErrorCode.BAD_REQUEST, "nope", { why: "test" }),
    },
    sessionClosed: (id: number) => void closed.push(id),
  };
  const host = await testHost(def);
  const s = host.session();
  await s.call(0xf800);
  assertEquals(s.events().map((e) => e.opcode), [0xf802]);
  assertEquals(host.dropped.map((d) => [d.opcode, d.reason]), [[0xf803, "undeclared"]]);
  const r = await s.call(0xf801);
  assert(!r.ok && r.extra.why === "test", JSON.stringify(r));
  await s.close();
  assertEquals(closed, [s.id]);
  await host.close();
  let refused = false;
  try {
    await testHost({ handlers: {}, init: () => fail(ErrorCode.SERVICE_UNAVAILABLE, "no") });
  } catch {
    refused = true;
  }
  assert(refused, "init throw rejects testHost");
});

Deno.test("package: signed bytes as documented, tamper and unpinned keys refused", () => {
  const files = new Map([["plugin.json", enc.encode("{}")], ["b/x.ts", enc.encode("x")], [
    "a.ts",
    enc.encode(""),
  ]]);
  // Independent rendering of docs/PLUGINS.md 17.2 "Signed bytes".
  const want = "myclerk-plugin-package-v1\n" +
    ["a.ts", "b/x.ts", "plugin.json"].map((p) => `${p}\n${hex(sha256(files.get(p)!))}\n`).join("");
  assertEquals(new TextDecoder().decode(signedBytes(files)), want);
  const sk = ed25519.utils.randomSecretKey();
  const pub = hex(ed25519.getPublicKey(sk));
  const pkg = decodePackage(encodePackage(files, sk));
  assert(signatureValid(pkg), "valid");
  assert(
    ed25519.verify(pkg.signature!.sig, enc.encode(want), ed25519.getPublicKey(sk)),
    "verifies over the doc's bytes",
  );
  const ranges = [{ first: 0xf800, last: 0xf80f }];
  assertEquals(checkPublisher(pkg, ranges, [{ first: 0xf800, last: 0xf8ff, keys: [pub] }]), pub);
  const codes = (f: () => unknown) => {
    try {
      f();
      return "accepted";
    } catch (e) {
      return (e as MyClerkError).detail;
    }
  };
  assertEquals(codes(() => checkPublisher(pkg, ranges, [])), "publisher-not-pinned");
  assertEquals(
    codes(() => checkPublisher(pkg, ranges, [{ first: 0xf900, last: 0xf9ff, keys: [pub] }])),
    "publisher-not-pinned",
  );
  const tampered = { ...pkg, files: new Map([...pkg.files, ["a.ts", enc.encode("evil")]]) };
  assertEquals(
    codes(() => checkPublisher(tampered, ranges, [{ first: 0xf800, last: 0xf80f, keys: [pub] }])),
    "bad-signature",
  );
  assertEquals(
    codes(() => checkPublisher(decodePackage(encodePackage(files)), ranges, [])),
    "unsigned-plugin",
  );
  assertEquals(
    codes(() => decodePackage(enc.encode('{"format":"myclerk-plugin/1","files":{"../x":""}}'))),
    "package: bad file entry ../x",
  );
});

Deno.test("versions: staged next, commit, downgrade flag, rollback, restart dir", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/p`;
    const stage = async (v: string, o = {}) => {
      const s = await Deno.makeTempDir({ dir: root });
      await Deno.writeTextFile(`${s}/plugin.json`, v);
      return stageVersion(dir, s, v, o);
    };
    await stage("1.0.0");
    assertEquals(resolveRunDir(dir, "start").version, "1.0.0", "first install starts next");
    await commitVersion(dir, "1.0.0");
    await stage("1.1.0");
    assertEquals(resolveRunDir(dir, "start").version, "1.0.0", "a start keeps current");
    assertEquals(resolveRunDir(dir, "reload").version, "1.1.0", "a reload tries next");
    await commitVersion(dir, "1.1.0");
    assertEquals(versionState(dir), {
      versions: ["1.0.0", "1.1.0"],
      current: "1.1.0",
      next: undefined,
      previous: "1.0.0",
    });
    let why = "";
    await stage("0.9.0").catch((e) => why = e.detail);
    assert(why.startsWith("downgrade"), why);
    await stage("1.1.0", { force: true }).catch((e) => why = e.detail);
    assert(why.startsWith("already-installed"), "the running version is never rewritten");
    assertEquals(await stageRollback(dir), "1.0.0");
    assertEquals(resolveRunDir(dir, "reload").version, "1.0.0");
    assert(
      compareVersions("1.0.0-rc.1", "1.0.0") < 0 && compareVersions("1.10.0", "1.9.9") > 0,
      "semver order",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("manifest: every problem reported at once, events inside the ranges", async () => {
  const { parseManifest } = await import("../../plugins/manifest.ts");
  let problems: string[] = [];
  try {
    parseManifest({
      name: "acme",
      version: "1.0.0",
      hostApi: "^1",
      ranges: [{ first: "0xF80F", last: "0xF800" }],
      minTier: { "0xF900": 3 },
      events: ["0xFA00"],
    });
  } catch (e) {
    problems = (e as MyClerkError).extra.problems as string[];
  }
  assertEquals(problems.length, 3, JSON.stringify(problems));
  assert(
    problems[0].includes("ranges[0]") && problems[1].includes("minTier.0xF900"),
    JSON.stringify(problems),
  );
  assert(problems[2].includes("events[0]"), JSON.stringify(problems));
});
