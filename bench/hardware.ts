/**
 * Hardware plugin throughput against the same kernel interface used
 * directly in this process, measured in the same run.
 *
 * CAN: frames sent on one raw socket and received on another on the same
 * interface (vcan loops every frame back to the other sockets), through the
 * CAN plugin (PluginHost -> confined plugin process: CAN_FRAME_SEND
 * batches, CAN_FRAME_RECEIVE pushed events with credit acks) versus the
 * same two sockets through hardware/can.ts in this process. Target: plugin
 * >= 0.5x direct. Needs a CAN interface (the VM's vcan0: the build
 * machines' kernel has no CAN modules), so CI runs it inside the VM
 * (tests/hwvm/can_bench_vm_test.ts).
 *
 * Run: deno run --allow-all bench/hardware.ts [--quick]
 *
 * @module
 */
import { type CanFrame, CanNetlink, CanSocket, encodeFrameInto } from "../hardware/can.ts";
import { Libc } from "../hardware/libc.ts";
import { resolveLibrary } from "../plugins/policy.ts";
import { PluginHost } from "../plugins/runtime/host.ts";
import { benchGpio, benchUsb } from "./_hw_usb_gpio.ts";

const QUICK = Deno.args.includes("--quick");
const ROOT = new URL("../", import.meta.url).pathname;

/** Frame `i` of a run; `base` keeps the two sides' ids apart (0x100 direct, 0x200 plugin). */
function frame(i: number, base = 0x100): CanFrame {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setUint32(0, i, true);
  return {
    id: base + (i & 0xff),
    ext: false,
    rtr: false,
    err: false,
    fd: false,
    brs: false,
    esi: false,
    data,
  };
}

/** Direct: tx and rx sockets in this process; returns frames/s received (all sent). */
async function canDirect(
  libc: Libc,
  ifname: string,
  n: number,
): Promise<{ rate: number; got: number }> {
  const tx = new CanSocket(libc, ifname);
  const rx = new CanSocket(libc, ifname);
  // Only this side's frames (the plugin side's may still be in flight on the bus).
  rx.setFilters([{ id: 0x100, mask: 0x700 }]);
  try {
    const t0 = performance.now();
    let got = 0;
    for (let i = 0; i < n;) {
      const end = Math.min(n, i + 64);
      while (i < end) {
        if (tx.send(frame(i))) i++;
        else got += rx.receive(256).length;
      }
      got += rx.receive(256).length;
    }
    const deadline = performance.now() + 10_000;
    while (got < n && performance.now() < deadline) {
      const k = rx.receive(256).length;
      got += k;
      if (k === 0) await rx.readable(20);
    }
    return { rate: got / ((performance.now() - t0) / 1000), got };
  } finally {
    tx.close();
    rx.close();
  }
}

/** Through the plugin: handle A sends, handle B receives pushed events. */
async function canPlugin(
  ifname: string,
  n: number,
  rounds: number,
  direct: () => Promise<{ rate: number }>,
): Promise<{ plugin: number[]; direct: number[]; got: number; dropped: number }> {
  const root = await Deno.makeTempDir({ prefix: "myclerk-bench-hw-" });
  const plugins = `${root}/data/plugins`;
  await Deno.mkdir(`${plugins}/can`, { recursive: true });
  // Every file of the plugin (its modules import siblings, e.g. turn.ts), as an install would.
  for await (const e of Deno.readDir(`${ROOT}plugins/can`)) {
    if (e.isFile) await Deno.copyFile(`${ROOT}plugins/can/${e.name}`, `${plugins}/can/${e.name}`);
  }
  await Deno.writeTextFile(
    `${root}/policy.json`,
    JSON.stringify({
      version: 1,
      plugins: { can: { trusted: true, ffi: ["libc"], buses: ["can"] } },
    }),
  );
  const host = await PluginHost.start({
    pluginsDir: plugins,
    policyFile: `${root}/policy.json`,
    dataDir: `${root}/data`,
    busRoot: "/",
    startTimeoutMs: 90_000,
  });
  const peer = { sessionId: 1, keyId: 1, tier: 3, remote: "bench" };
  const call = async (op: number, payload: unknown) => {
    const r = await host.dispatch({ opcode: op, tier: 3, payload, peer });
    if (!r.ok) throw new Error(`0x${op.toString(16)}: ${r.error.detail}`);
    return r.payload as Record<string, number>;
  };
  try {
    const st = host.list().find((s) => s.name === "can");
    if (st?.state !== "running") throw new Error(`can plugin ${st?.state}: ${st?.reason}`);
    const a = await call(0x0651, { interface: ifname });
    const b = await call(0x0651, {
      interface: ifname,
      window: 65536,
      queue: 65536,
      // Only the plugin side's frames: the direct rounds share the bus.
      filters: [{ id: 0x200, mask: 0x700 }],
      // Kernel records in one bin per event: no per-frame MessagePack maps.
      raw: true,
    });
    let got = 0;
    let dropped = 0;
    let unacked = 0;
    const off = host.onEvent((ev) => {
      const p = ev.payload as { handle: number; raw: Uint8Array; dropped: number };
      if (ev.opcode !== 0x0655 || p.handle !== b.handle) return;
      const k = p.raw.length / 16;
      got += k;
      unacked += k;
      dropped = p.dropped;
    });
    const pluginRates: number[] = [];
    const directRates: number[] = [];
    // Rounds alternate direct and plugin, so both see the same machine load (TCG is noisy).
    for (let round = 0; round < rounds; round++) {
      directRates.push((await direct()).rate);
      const start = got;
      const t0 = performance.now();
      // Batches of 256 frames, up to 4 requests in flight (node and plugin work in parallel).
      const inflight = new Set<Promise<unknown>>();
      let failure = "";
      for (let i = 0; i < n && failure === ""; i += 256) {
        const end = Math.min(n, i + 256);
        const raw = new Uint8Array((end - i) * 16);
        for (let j = i; j < end; j++) encodeFrameInto(frame(j, 0x200), raw, (j - i) * 16);
        const p: Promise<unknown> = call(0x0654, { handle: a.handle, raw })
          .catch((e) => {
            failure ||= (e as Error).message;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= 4) await Promise.race(inflight);
        if (unacked >= 4096) {
          const k = unacked;
          unacked = 0;
          await call(0x0655, { handle: b.handle, ack: k });
        }
      }
      await Promise.all(inflight);
      if (failure !== "") console.log(`can plugin: a send failed: ${failure}`);
      const deadline = performance.now() + 15_000;
      while (got - start < n && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
        if (unacked > 0) {
          const k = unacked;
          unacked = 0;
          await call(0x0655, { handle: b.handle, ack: k });
        }
      }
      pluginRates.push((got - start) / ((performance.now() - t0) / 1000));
    }
    off();
    return { plugin: pluginRates, direct: directRates, got, dropped };
  } finally {
    await host.close();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

async function benchCan(): Promise<void> {
  const libcPath = resolveLibrary("libc");
  if (libcPath === undefined) throw new Error("libc not found");
  const libc = new Libc(libcPath);
  const want = Deno.env.get("HWVM_CAN_IF");
  const links = new CanNetlink(libc).list().filter((l) => l.up);
  const link = links.find((l) => l.name === want) ?? links.find((l) => l.kind === "vcan") ??
    links[0];
  if (link === undefined) {
    console.log(
      "can: no CAN interface is up here (the build machines' kernel has no CAN modules); run inside the VM: bash tests/hwvm/run.sh",
    );
    console.log("target: CAN frames/s through the plugin >= 0.5x direct: not measured (no CAN)");
    return;
  }
  const n = QUICK ? 1_000 : 20_000;
  const rounds = QUICK ? 3 : 5;
  // Warm-up so neither side pays first-call costs inside the measurement.
  await canDirect(libc, link.name, 200);
  const r = await canPlugin(link.name, n, rounds, () => canDirect(libc, link.name, n));
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const ratio = med(r.plugin) / med(r.direct);
  const fmt = (xs: number[]) => xs.map((x) => Math.round(x)).join(", ");
  console.log(
    `can: ${link.name} (${link.kind}), ${rounds} alternating rounds of ${n} classic 8-byte frames, ${
      QUICK ? "quick" : "full"
    } run`,
  );
  console.log(`can direct (two raw sockets, this process): ${fmt(r.direct)} frames/s`);
  console.log(
    `can plugin (raw batches of 256, 4 in flight -> confined plugin -> vcan -> pushed raw events, credit acks): ${
      fmt(r.plugin)
    } frames/s (${r.got} received, ${r.dropped} dropped)`,
  );
  console.log(
    `target: CAN frames/s through the plugin >= 0.5x direct (medians): ${ratio.toFixed(2)}x ${
      ratio >= 0.5 ? "PASS" : "FAIL"
    }`,
  );
  libc.unload();
}

if (import.meta.main) {
  await benchCan();
  // `--can-only`: the CAN VM test runs just this part (the USB/GPIO parts have their own test).
  if (Deno.args.includes("--can-only")) Deno.exit(0);
  // USB bulk loopback and GPIO set/get round trips (bench/_hw_usb_gpio.ts).
  await benchUsb(QUICK);
  await benchGpio(QUICK);
}
