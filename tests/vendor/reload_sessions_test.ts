/**
 * Sessions across a reload: a real PluginHost with a real process plugin.
 * The new generation is told (`ctx.sessions`) which open sessions called the
 * old one, and its events to them are delivered; a closed session is not
 * passed on. Undeclared events are dropped and counted.
 */
import { assert, assertEquals } from "../core/_assert.ts";
import { type PluginEvent, PluginHost } from "../../plugins/runtime/host.ts";

const SDK = new URL("../../plugins/sdk/mod.ts", import.meta.url).href;

async function poll(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "reload: ctx.sessions names the open callers, events reach them, undeclared dropped",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const data = await Deno.makeTempDir();
    const dir = `${data}/plugins/sess`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/plugin.json`,
      JSON.stringify({
        name: "sess",
        version: "1.0.0",
        hostApi: "^1",
        ranges: [{ first: "0xF800", last: "0xF80F" }],
        events: ["0xF802"],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/mod.ts`,
      `import { definePlugin } from ${JSON.stringify(SDK)};
let told: readonly number[] = [];
export default definePlugin({
  init(ctx) {
    told = ctx.sessions ?? [];
    for (const id of told) ctx.emit(0xF802, { resumed: id }, id);
    ctx.emit(0xF803, { undeclared: true });
  },
  handlers: { [0xF800]: () => ({ told }) },
});
`,
    );
    const host = await PluginHost.start({ pluginsDir: `${data}/plugins`, dataDir: data });
    const evs: PluginEvent[] = [];
    host.onEvent((e) => evs.push(e));
    try {
      const peer = (sessionId: number) => ({ sessionId, keyId: 1, tier: 3, remote: "t" });
      const ask = (sid: number) =>
        host.dispatch({ opcode: 0xf800, tier: 3, payload: {}, peer: peer(sid) });
      assertEquals(await ask(7), { ok: true, payload: { told: [] } });
      assert((await ask(8)).ok, "8 called");
      host.sessionClosed(8);
      await host.reload("sess");
      const r = await ask(9);
      assertEquals(r, { ok: true, payload: { told: [7] } }, JSON.stringify(r));
      await poll("the resumed event to session 7", () => evs.some((e) => e.sessionId === 7));
      assertEquals(
        evs.filter((e) => e.sessionId !== undefined).map((e) => [e.opcode, e.sessionId]),
        [[0xf802, 7]],
      );
      const row = host.list().find((s) => s.name === "sess")!;
      await poll(
        "undeclared counted",
        () =>
          (host.list().find((s) => s.name === "sess")!.metrics.eventsDropped.undeclared ?? 0) >= 2,
      );
      assert(
        !evs.some((e) => e.opcode === 0xf803),
        `undeclared never delivered: ${JSON.stringify(row.metrics.eventsDropped)}`,
      );
      assert(host.logs("sess").some((l) => l.includes("undeclared")), "logged");
    } finally {
      await host.close();
      await Deno.remove(data, { recursive: true });
    }
  },
});
