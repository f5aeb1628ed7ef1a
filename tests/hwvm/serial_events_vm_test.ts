/**
 * Serial events on the real cdc_acm line of the hwvm VM: the serial plugin
 * opens `/dev/ttyACM0` (host side) with `events: true`; the test holds the
 * gadget side `/dev/ttyGS0` (u_serial) through its own libc FFI. Bytes the
 * gadget writes are pushed as DATA_EVENT (0x0619) in order; DSR/DCD, which
 * f_acm reports in its SERIAL_STATE notification when ttyGS0 opens or
 * closes, are pushed as LINES_EVENT (0x061A). Runs only inside the VM.
 */
import { resolveLibrary } from "../../plugins/policy.ts";
import { type PluginEvent, PluginHost } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  copyDir,
  dropWorld,
  makeWorld,
  PEER,
  PLUGINS_SRC,
  until,
  writePolicy,
} from "../plugins/_helpers.ts";
import { openTty, stty, type Tty } from "./_tty.ts";

const IN_VM = Deno.env.get("HWVM") === "1";
const ACM = "/dev/ttyACM0";
const GS = "/dev/ttyGS0";

type DataEv = { handle: number; seq: number; data: Uint8Array; total: number };
type LinesEv = { handle: number; seq: number; lines: Record<string, boolean>; changed: string[] };

Deno.test({
  name: "hwvm serial events: ttyACM0 pushes data and DSR/DCD changes from ttyGS0",
  ignore: !IN_VM,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const libc = resolveLibrary("libc")!;
    const w = await makeWorld();
    let host: PluginHost | undefined;
    let gs: Tty | undefined;
    const events: PluginEvent[] = [];
    try {
      await copyDir(`${PLUGINS_SRC}/serial`, `${w.pluginsDir}/serial`);
      await writePolicy(w, {
        plugins: { serial: { trusted: true, ffi: ["libc"], buses: ["serial"] } },
      });
      // Under TCG a plugin process needs well over the default 15 s to compile and start.
      host = await PluginHost.start({
        pluginsDir: w.pluginsDir,
        policyFile: w.policyFile,
        dataDir: w.dataDir,
        busRoot: "/",
        restartBaseMs: 50,
        startTimeoutMs: 90_000,
        log: (r) => w.logs.push(r),
      });
      const h = host;
      const state = () => h.list().find((s) => s.name === "serial")!;
      await until(() => state().state === "running", 90_000, `serial running (${state().reason})`);
      h.onEvent((ev) => {
        if (ev.plugin === "serial") events.push(ev);
      });
      const ok = async (opcode: number, payload: unknown) => {
        const r = await h.dispatch({ opcode, tier: 3, payload, peer: PEER });
        if (!r.ok) throw new Error(`0x${opcode.toString(16)}: ${r.error.code} ${r.error.detail}`);
        return r.payload as Record<string, unknown>;
      };
      await until(
        () => {
          try {
            Deno.statSync(ACM);
            return true;
          } catch {
            return false;
          }
        },
        10_000,
        "ttyACM0",
      );
      gs = openTty(libc, GS);
      // u_serial keeps 9600 (it refuses other speeds): raw, no echo, no XON/XOFF is what matters.
      await stty(GS, "raw", "-echo", "-ixon", "9600");
      const o = await ok(0x0611, { path: ACM, events: true });
      const handle = o.handle as number;
      const data = () => {
        const parts = events.filter((e) => e.opcode === 0x0619).map((e) =>
          (e.payload as DataEv).data
        );
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let off = 0;
        for (const p of parts) {
          out.set(p, off);
          off += p.length;
        }
        return out;
      };
      const lines = () =>
        events.filter((e) => e.opcode === 0x061a).map((e) => e.payload as LinesEv);

      const msg = new TextEncoder().encode("ping from the gadget");
      assertEq(gs.write(msg), msg.length);
      await until(() => data().length >= msg.length, 10_000, "first bytes");
      assertEq(new TextDecoder().decode(data()), "ping from the gadget");

      const big = new Uint8Array(16 * 1024);
      crypto.getRandomValues(big);
      let off = 0;
      const end = performance.now() + 20_000;
      while (off < big.length && performance.now() < end) {
        const n = gs.write(big.subarray(off, off + 1024));
        if (n > 0) off += n;
        else await new Promise((r) => setTimeout(r, 5));
      }
      assertEq(off, big.length);
      await until(() => data().length >= msg.length + big.length, 20_000, "16 KiB pushed");
      const got = data().subarray(msg.length);
      assert(got.every((v, i) => v === big[i]), "16 KiB in order");
      assert(events.every((e) => e.sessionId === PEER.sessionId), "to the opening session");

      // The gadget side closing drops DSR/DCD (f_acm SERIAL_STATE), opening raises them.
      const n0 = lines().length;
      gs.close();
      gs = undefined;
      await until(
        () => lines().length > n0 && !lines()[lines().length - 1].lines.dcd,
        10_000,
        "DCD down",
      );
      const down = lines()[lines().length - 1];
      assert(down.changed.includes("dcd") && !down.lines.dsr, `down: ${JSON.stringify(down)}`);
      gs = openTty(libc, GS);
      await until(() => lines()[lines().length - 1]?.lines.dcd === true, 10_000, "DCD up");
      const up = lines()[lines().length - 1];
      assert(up.changed.includes("dcd") && up.lines.dsr, `up: ${JSON.stringify(up)}`);
      const seqs = events.filter((e) => (e.payload as { handle: number }).handle === handle).map((
        e,
      ) => (e.payload as { seq: number }).seq);
      assertEq(seqs, seqs.map((_, i) => i + 1), "one sequence over data and line events");
      await ok(0x0612, { handle });
    } finally {
      gs?.close();
      await host?.close();
      await dropWorld(w);
    }
  },
});
