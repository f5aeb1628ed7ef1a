/**
 * The operator output helpers (core/cli/table.ts, args.ts, oserror.ts,
 * roles.ts) on their own: units, alignment, parsers, OS error sentences
 * from real OS errors (a real bound port, a real missing path).
 */
import { assert, assertEquals } from "./_assert.ts";
import { formatAge, formatBytes, keyValues, table } from "../../core/cli/table.ts";
import { intArg, tierArg } from "../../core/cli/args.ts";
import { explainOsError, logFailure, probeListen } from "../../core/cli/oserror.ts";
import { roleConflicts } from "../../core/cli/roles.ts";
// The federation layer declares which roles read its config keys.
import "../../federation/config.ts";

Deno.test("table: ages and sizes in units", () => {
  assertEquals(
    [0, 59, 60, 192, 3599, 3600, 18_180, 86_400, 187_200].map(formatAge),
    ["0s", "59s", "1m00s", "3m12s", "59m59s", "1h00m", "5h03m", "1d00h", "2d04h"],
  );
  assertEquals(formatAge(-1), "-");
  assertEquals(
    [0, 1023, 1024, 1_258_291, 10 * 1_048_576, 1 << 30, 1.5 * 2 ** 40].map(formatBytes),
    ["0 B", "1023 B", "1 KiB", "1.2 MiB", "10 MiB", "1 GiB", "1.5 TiB"],
  );
});

Deno.test("table: columns aligned, numbers right, empty says so, newlines flattened", () => {
  const rows = [{ n: "a", v: 5 }, { n: "longer-name", v: 12345 }, { n: "x\ny", v: 0 }];
  const out = table(rows, [
    { header: "NAME", cell: (r) => r.n },
    { header: "COUNT", cell: (r) => String(r.v), align: "right" },
  ]);
  assertEquals(out, [
    "NAME         COUNT",
    "a                5",
    "longer-name  12345",
    "x y              0",
  ]);
  assertEquals(table([], [{ header: "A", cell: () => "" }], "(nothing)"), ["(nothing)"]);
  assertEquals(keyValues([["a", "1"], ["long", "2"]]), ["a:     1", "long:  2"]);
});

Deno.test("args: whole numbers in range, named in the error", () => {
  const n = intArg("-n", 1, 10);
  assertEquals(n("7"), 7);
  for (const bad of ["abc", "0", "11", "1.5", "-1", "", "1e3", "0x5"]) {
    let msg = "";
    try {
      n(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    assertEquals(msg, `-n must be a whole number from 1 to 10, got "${bad}"`);
  }
  assertEquals(tierArg("--tier")("5"), 5);
});

Deno.test("oserror: a real address in use, a real missing path, connection refused", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  try {
    let msg = "";
    try {
      await probeListen(`127.0.0.1:${port}`, "--tcp");
    } catch (e) {
      msg = explainOsError(e) ?? "";
    }
    assertEquals(
      msg,
      `cannot listen on 127.0.0.1:${port}: address already in use (another myclerk or program holds it; stop it or pick another with --tcp HOST:PORT)`,
    );
  } finally {
    l.close();
  }
  // Free now: the probe binds and closes.
  await probeListen(`127.0.0.1:${port}`, "--tcp");
  try {
    await Deno.readFile("/nonexistent-myclerk/key");
    throw new Error("unreachable");
  } catch (e) {
    assertEquals(
      explainOsError(e, { kind: "path", path: "/nonexistent-myclerk/key", what: "key file" }),
      "key file /nonexistent-myclerk/key: does not exist (check the path)",
    );
    // Without context the path still comes from the OS error.
    assert(explainOsError(e)!.includes("/nonexistent-myclerk/key"), explainOsError(e));
  }
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    throw new Error(`something listens on ${port}`);
  } catch (e) {
    assertEquals(
      explainOsError(e, { kind: "connect", addr: `127.0.0.1:${port}`, what: "relay" }),
      `cannot connect to relay 127.0.0.1:${port}: connection refused (nothing listens there: check that the relay runs and the host and port are right)`,
    );
  }
  assertEquals(explainOsError(new Error("not an OS error")), undefined);
  assertEquals(
    [1, 2, 3, 4, 5, 8, 9, 16].filter(logFailure),
    [1, 2, 4, 8, 16],
  );
});

Deno.test("roles: options and config keys the role ignores", () => {
  assertEquals(roleConflicts("relay", { peer: ["a:1"] }, undefined), []);
  assertEquals(roleConflicts("node", { peer: [] }, undefined), []);
  assertEquals(roleConflicts("node", { peer: ["a:1"] }, undefined), [
    "--peer applies to --role relay or both (this node is --role node); remove it or change --role",
  ]);
  assertEquals(roleConflicts("relay", { relay: ["a:1"] }, undefined), [
    "--relay applies to --role hub or both (this node is --role relay); remove it or change --role",
  ]);
  assertEquals(
    roleConflicts("hub", {}, { federation: { peers: [], credit: 8, rate: 5 } }, "c.json"),
    [
      'c.json: "federation.peers" applies to --role relay or both (this node is role hub); remove it or change the role',
    ],
  );
  assertEquals(roleConflicts("node", {}, { federation: { rate: 5 } }).length, 1);
  assertEquals(
    roleConflicts("both", { peer: ["x:1"], relay: ["y:1"] }, {
      federation: { peers: [], relays: [] },
    }),
    [],
  );
});
