/**
 * A quick A/B probe of the relay's 1 -> 1 hot path (not a target): a real
 * relay child and two hubs, as in `bench/relay.ts`, then `N` messages
 * through handoff, and the relay's CPU per message on its event-loop
 * thread, on all its threads (per thread name with `--threads`) and of this
 * process (the hub sessions). `--strace` counts the relay's system calls
 * over the run with `strace -c` (which slows it: counts, not times).
 * `--window=8192` keeps more unacked "stored" than the relay pushes to one
 * hub, so most messages go through the store instead (stored, pushed from
 * it, deleted at "delivered").
 *
 * Alternate two builds a few times and compare the minimum and median:
 * on a shared 2-core machine a single run moves by ±30 %.
 *
 * Run: `deno run -A bench/relay_cpu.ts [N] [--window=W] [--threads] [--strace]`.
 *
 * @module
 */

import { cpuMs } from "./_relay_sys.ts";
import { Inbox, joinHubs, Outbox, sealMany, startRelay } from "./_relay_ours.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "usage: deno run -A bench/relay_cpu.ts [N] [--window=W] [--threads] [--strace]\n\n" +
      "N (default 40000) 1 KiB messages 1 -> 1 through a relay child after 3000 untimed;\n" +
      "prints msgs/s and CPU per message: relay (all threads, event-loop thread) and this\n" +
      "process (hub sessions). --threads: per relay thread name. --strace: the relay's\n" +
      'system calls over the run (strace -c; needs strace). --window=W: unacked "stored"\n' +
      "the sender keeps (default 1024; 8192 sends most messages through the store).",
  );
  Deno.exit(0);
}
const bad = Deno.args.find((a) =>
  !/^\d+$/.test(a) && a !== "--threads" && a !== "--strace" && !/^--window=\d+$/.test(a)
);
if (bad !== undefined) {
  console.error(`bench/relay_cpu: unknown argument ${bad} (--help lists them)`);
  Deno.exit(2);
}
const N = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 40_000);
const WARM = 3000;
const WINDOW = Number(Deno.args.find((a) => a.startsWith("--window="))?.slice(9) ?? 1024);

/** CPU ms of each thread name of `pid` (summed over threads of one name). */
function threads(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    const st = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`);
    const comm = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    m.set(comm, (m.get(comm) ?? 0) + (Number(f[11]) + Number(f[12])) * 10);
  }
  return m;
}

const dir = await Deno.makeTempDir({ prefix: "myclerk-relay-cpu-" });
const relay = await startRelay(dir, "relay", 2);
try {
  const [a, b] = await joinHubs(relay, dir, ["a", "b"]);
  const out = new Outbox(a), inbox = new Inbox(b);
  out.add(sealMany(a, b, WARM + N, 1024));
  await Promise.all([out.burst(WARM, 1024), inbox.until(WARM)]);
  const dump = `${dir}/strace.txt`;
  const st = Deno.args.includes("--strace")
    ? new Deno.Command("strace", {
      args: ["-c", "-f", "-p", String(relay.pid), "-o", dump],
      stderr: "null",
    }).spawn()
    : undefined;
  if (st) await new Promise((r) => setTimeout(r, 1500)); // attached to every thread
  const th0 = threads(relay.pid);
  const c0 = cpuMs(relay.pid)!, m0 = cpuMs(relay.pid, relay.pid)!, b0 = cpuMs(Deno.pid)!;
  const t0 = performance.now();
  await Promise.all([out.burst(N, WINDOW), inbox.until(WARM + N)]);
  const dt = performance.now() - t0;
  const us = (ms: number) => (ms * 1000 / N).toFixed(1);
  const th1 = threads(relay.pid);
  console.log(
    `${N} msgs in ${dt.toFixed(0)} ms: ${(N / dt * 1000).toFixed(0)}/s relay all ${
      us(cpuMs(relay.pid)! - c0)
    } main ${us(cpuMs(relay.pid, relay.pid)! - m0)} bench ${us(cpuMs(Deno.pid)! - b0)} us/msg`,
  );
  if (Deno.args.includes("--threads")) {
    for (const [k, v] of th1) {
      const d = v - (th0.get(k) ?? 0);
      if (d > 0) console.log(`  thread ${k}: ${us(d)} us/msg`);
    }
  }
  if (st) {
    st.kill("SIGINT");
    await st.status;
    console.log(await Deno.readTextFile(dump));
  }
  a.c.close();
  b.c.close();
} finally {
  await relay.stop();
  await Deno.remove(dir, { recursive: true });
}
