/**
 * Escape attempts: a plugin that reads a file outside its grant, writes
 * outside it, connects to a host not granted, reads an env variable, spawns
 * a process or opens a library with FFI gets a permission error, in Worker
 * and in process isolation, while the node and the other plugins keep
 * serving. A granted read in the same plugin succeeds (so the test can
 * tell "denied" from "broken").
 *
 * Remote imports (issue #9 case 3): `import()` from Deno's default import
 * hosts (deno.land, jsr.io, esm.sh, raw.githubusercontent.com) fails with a
 * permission error ("Requires import access"), not a network error, and a
 * process plugin's start does not prefetch a literal remote `import()`.
 */
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  startHost,
  writePlugin,
  writePolicy,
} from "./_helpers.ts";

const ESCAPE_SRC = `
const attempt = async (f) => { try { await f(); return "allowed"; } catch (e) { return e?.name ?? String(e); } };
export default { handlers: {
  [0xF200]: (p) => attempt(() => Deno.readTextFile(p.path)),
  [0xF201]: (p) => attempt(() => Deno.writeTextFile(p.path, "x")),
  [0xF202]: (p) => attempt(async () => { const c = await Deno.connect({ hostname: "127.0.0.1", port: p.port }); c.close(); }),
  [0xF203]: () => attempt(() => Deno.env.get("HOME")),
  [0xF204]: () => attempt(() => new Deno.Command("true").output()),
  [0xF205]: () => attempt(() => Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }).close()),
  [0xF206]: (p) => attempt(() => Deno.readTextFile(p.path)),
  [0xF207]: async (p) => { try { await import(p.url); return "allowed"; } catch (e) { return \`\${e?.name}: \${e?.message}\`; } },
  [0xF208]: async () => { try { const u = URL.createObjectURL(new Blob(["export default 2"], { type: "text/javascript" })); return (await import(u)).default; } catch (e) { return \`\${e?.name}: \${e?.message}\`; } },
  // Never runs: only here so that a start which prefetches literal imports would try it.
  [0xF209]: () => import("https://deno.land/x/myclerk_prefetch_probe/mod.ts"),
} };
`;

/** Remote import targets: Deno 2.9.6's default --allow-import hosts. */
const REMOTE = [
  "https://deno.land/x/myclerk_escape_probe/mod.ts",
  "https://jsr.io/@myclerk/escape-probe/1.0.0/mod.ts",
  "https://esm.sh/myclerk-escape-probe@1.0.0",
  "https://raw.githubusercontent.com/myclerk/escape-probe/main/mod.js",
  "https://cdn.jsdelivr.net/npm/myclerk-escape-probe/mod.js",
];

function manifest(name: string, first: number, isolation: string) {
  return {
    name,
    version: "1.0.0",
    hostApi: "^1",
    isolation,
    ranges: [{ first, last: first + 0x0f }],
    permissions: {
      read: ["$DATA"],
      write: ["$DATA"],
      net: ["127.0.0.1:1"],
      env: ["MYCLERK_ESCAPE_OK"],
    },
  };
}

Deno.test("escape attempts are denied in worker and process plugins; others keep serving", async () => {
  const w = await makeWorld();
  // A listener the plugins must not reach; counts connections.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const acceptLoop = (async () => {
    for await (const c of listener) {
      accepted++;
      c.close();
    }
  })();
  try {
    const secret = `${w.root}/secret.txt`;
    await Deno.writeTextFile(secret, "top secret");
    await writePlugin(w, manifest("escape-w", 0xf200, "worker"), ESCAPE_SRC);
    await writePlugin(
      w,
      { ...manifest("escape-p", 0xf300, "process") },
      ESCAPE_SRC.replaceAll("0xF2", "0xF3"),
    );
    await copyDir(`${PLUGINS_SRC}/examples/vendor-echo`, `${w.pluginsDir}/vendor-echo`);
    const allowed = {
      read: ["$DATA"],
      write: ["$DATA"],
      net: ["127.0.0.1:1"],
      env: ["MYCLERK_ESCAPE_OK"],
      isolation: ["worker", "process"],
      // Worker mode needs trust (no heap cap); the permission sandbox is the same.
      trusted: true,
    };
    await writePolicy(w, {
      plugins: { "escape-w": allowed, "escape-p": allowed, "vendor-echo": allowed },
    });
    const host = await startHost(w);
    try {
      for (const [name, base] of [["escape-w", 0xf200], ["escape-p", 0xf300]] as const) {
        const st = host.list().find((s) => s.name === name)!;
        assertEq(st.state, "running", `${name} state (${st.reason})`);
        assertEq(st.isolation, name === "escape-w" ? "worker" : "process");
        const own = `${w.dataDir}/plugin-data/${name}/own.txt`;
        await Deno.writeTextFile(own, "mine");
        const call = async (off: number, payload: unknown = {}) => {
          const r = await host.dispatch({ opcode: base + off, tier: 1, payload, peer: PEER });
          assert(r.ok, `${name} ${off} answered`);
          return r.payload;
        };
        const denied = (v: unknown, what: string) =>
          assert(
            v === "NotCapable" || v === "PermissionDenied",
            `${name} ${what}: expected a permission error, got ${v}`,
          );
        // Positive control: the grant works.
        assertEq(await call(6, { path: own }), "allowed", `${name} granted read`);
        denied(await call(0, { path: secret }), "read outside grant");
        denied(await call(1, { path: `${w.root}/dropped.txt` }), "write outside grant");
        denied(
          await call(2, { port: (listener.addr as Deno.NetAddr).port }),
          "net to ungranted port",
        );
        denied(await call(3), "env read");
        denied(await call(4), "spawn");
        denied(await call(5), "ffi dlopen");
        for (const url of REMOTE) {
          const r = String(await call(7, { url }));
          assert(
            /Requires import access/.test(r) && !/dns|error sending request|connect/i.test(r),
            `${name} import ${url}: expected a permission error, got ${r}`,
          );
        }
        if (name === "escape-p") {
          // npm: is not an import permission: --cached-only keeps it from fetching anything.
          const r = String(await call(7, { url: "npm:myclerk-escape-probe-not-cached@9.9.9" }));
          assert(/cache/i.test(r), `${name} npm import: expected a cache-only refusal, got ${r}`);
        }
        // data: and blob: fetch nothing (a plugin can eval code anyway): documented as allowed.
        assertEq(await call(7, { url: "data:text/javascript,export default 1" }), "allowed");
        assertEq(await call(8), 2, `${name} blob: import`);
        // The plugin itself is still alive after all that.
        assertEq(await call(6, { path: own }), "allowed", `${name} still serving`);
      }
      assertEq(accepted, 0, "no connection reached the listener");
      // Starting a process plugin fetched nothing: no literal import() was prefetched.
      const pl = host.logs("escape-p", 1000).join("\n");
      assert(!/Download|myclerk_prefetch_probe/.test(pl), `process plugin start fetched:\n${pl}`);
      assert(
        !(await Deno.stat(`${w.root}/dropped.txt`).then(() => true, () => false)),
        "no file written",
      );
      const echo = await host.dispatch({
        opcode: 0xf101,
        tier: 1,
        payload: { text: "ok" },
        peer: PEER,
      });
      assertEq(echo, { ok: true, payload: { text: "OK" } }, "other plugin unaffected");
      for (const s of host.list()) assertEq(s.metrics.restarts, 0, `${s.name} restarts`);
    } finally {
      await host.close();
    }
  } finally {
    listener.close();
    await acceptLoop.catch(() => {});
    await dropWorld(w);
  }
});
