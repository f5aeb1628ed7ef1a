/**
 * Config sections registered by layers (core/node/config.ts
 * `registerConfigSection`): a section validates with the same messages as a
 * core key, its defaults fill an absent section, a duplicate or a core key
 * name is refused with a clear error, and removing a section makes its key
 * unknown again. The federation and plugins sections register at import.
 */
import { assert, assertEquals } from "../_assert.ts";
import { z } from "zod";
import {
  configSections,
  defaultConfig,
  registerConfigSection,
  restartOnlySections,
  validateConfig,
} from "../../../core/node/config.ts";
import { isMyClerkError, MyClerkError } from "../../../core/errors.ts";
import "../../../federation/config.ts";
import "../../../plugins/config.ts";

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw, "cfg.json");
  } catch (e) {
    assert(isMyClerkError(e) && Array.isArray(e.extra.problems), String(e));
    return e.extra.problems as string[];
  }
  return [];
}

function refused(f: () => unknown): MyClerkError {
  try {
    f();
  } catch (e) {
    if (e instanceof MyClerkError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

Deno.test("config sections: a layer's section validates like a core key, defaults fill it", () => {
  const drop = registerConfigSection(
    "testAcme",
    z.object({
      port: z.number().int().min(1, { message: "must be a port, at least 1" }).default(7),
    }).strict(),
  );
  try {
    assert(configSections().includes("testAcme"), "listed");
    assertEquals((defaultConfig() as unknown as { testAcme: { port: number } }).testAcme, {
      port: 7,
    });
    const p = problems({ testAcme: { port: 0 } });
    assertEquals(p, ['cfg.json: "testAcme.port" must be a port, at least 1']);
    assertEquals(problems({ testAcme: { prot: 1 } }), [
      'cfg.json: unknown key "testAcme.prot": remove it or check its spelling',
    ]);
  } finally {
    drop();
  }
  assertEquals(problems({ testAcme: {} }), [
    'cfg.json: unknown key "testAcme": remove it or check its spelling',
  ]);
});

Deno.test("config sections: a duplicate section or a core key is refused, naming it", () => {
  const dup = refused(() => registerConfigSection("federation", z.object({}).strict()));
  assertEquals(dup.detail, "config-section");
  assertEquals(dup.extra.why, 'config section "federation" is already registered');
  const core = refused(() => registerConfigSection("limits", z.object({}).strict()));
  assertEquals(core.extra.why, '"limits" is a core config key');
  const name = refused(() => registerConfigSection("Bad-Name", z.object({}).strict()));
  assert(String(name.extra.why).includes("camelCase"), String(name.extra.why));
  // the refused registrations changed nothing
  assertEquals(configSections().filter((n) => n === "federation").length, 1);
});

Deno.test("config sections: federation and plugins registered; their shape and finalize hook", () => {
  assertEquals([...configSections()].slice(0, 2), ["federation", "plugins"]);
  assertEquals(restartOnlySections(), ["plugins"]);
  const d = defaultConfig();
  assertEquals([d.federation.credit, d.federation.quotaMessages, d.plugins.busRoot], [
    256,
    100_000,
    "/",
  ]);
  // keys in the same order as one schema had them: core keys, then federation, then plugins
  assertEquals(Object.keys(d).slice(-2), ["federation", "plugins"]);
  assertEquals(problems({ federation: { credit: 0 } }).length, 1);
  assert(problems({ federation: { credit: 0 } })[0].startsWith('cfg.json: "federation.credit"'));
  // the relay's queue floor (federation's finalize): one largest envelope plus 2 MiB
  const r = validateConfig({ role: "relay", federation: { maxMessage: 4 * 1_048_576 } });
  assertEquals(r.limits.maxQueueBytes, 8 * 1_048_576);
  const big = validateConfig({ role: "relay", federation: { maxMessage: 10 * 1_048_576 } });
  assertEquals(big.limits.maxQueueBytes, 12 * 1_048_576);
  const node = validateConfig({ role: "node", federation: { maxMessage: 10 * 1_048_576 } });
  assertEquals(node.limits.maxQueueBytes, 8 * 1_048_576);
});

Deno.test("config sections: a section's role table drives serve's role check", async () => {
  const { roleConflicts } = await import("../../../core/cli/roles.ts");
  const drop = registerConfigSection("testRoles", z.object({ a: z.number().optional() }).strict(), {
    roles: { all: ["relay", "both"], keys: { a: ["both"] } },
  });
  try {
    assertEquals(roleConflicts("relay", {}, { testRoles: { a: 1 } }, "c.json"), [
      'c.json: "testRoles.a" applies to --role both (this node is role relay); remove it or change the role',
    ]);
    assertEquals(roleConflicts("both", {}, { testRoles: { a: 1 } }), []);
  } finally {
    drop();
  }
  assertEquals(roleConflicts("relay", {}, { testRoles: { a: 1 } }), []);
});
