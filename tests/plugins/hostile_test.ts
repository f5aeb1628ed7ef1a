/**
 * Plugins cannot hurt the host (issue #9 case 8), with real Workers and
 * real child processes:
 *
 * - a Worker plugin that posts `null`, a number, wrong field types, an
 *   unknown kind, a Map or a BigInt payload does not crash the node: each
 *   message is refused by the one decoder, counted by reason, the plugin is
 *   stopped and restarted (its failure policy), and it serves again;
 * - a process plugin that writes garbage frames on stdout is treated the
 *   same way;
 * - a process plugin writing a 64 MB stderr line without a newline does not
 *   grow the node's memory (fresh node process, RSS measured);
 * - a process plugin that allocates without bound dies at its V8 ceiling,
 *   the node's RSS stays flat and the plugin is restarted;
 * - an untrusted plugin is never run in a Worker (no heap cap there).
 */
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  PEER,
  startHost,
  until,
  writePlugin,
  writePolicy,
} from "./_helpers.ts";
import type { PluginHost } from "../../plugins/runtime/host.ts";
import { ErrorCode } from "../../core/errors.ts";

const MiB = 1024 * 1024;

/** 0xF130 {kind}: posts one hostile message straight to the host port; 0xF131 answers normally. */
const WORKER_SRC = `
const bad = {
  null: () => null,
  number: () => 42,
  string: () => "res",
  array: () => [{ t: "res" }],
  kindType: () => ({ t: 5 }),
  unknownKind: () => ({ t: "shutdown-host" }),
  idType: () => ({ t: "res", id: "1", ok: true, payload: 1 }),
  opRange: () => ({ t: "event", op: 0x1FFFF, payload: 1 }),
  mapPayload: () => ({ t: "event", op: 0xF13E, payload: new Map([[1, 2]]) }),
  bigintPayload: () => ({ t: "res", id: 1, ok: true, payload: 10n }),
  heapType: () => ({ t: "pong", id: 1, heapUsed: "lots" }),
};
export default { handlers: {
  [0xF130]: (p) => { globalThis.postMessage(bad[p.kind]()); return new Promise(() => {}); },
  [0xF131]: () => ({ alive: true }),
  // A huge but valid message: a 10 MB log line is cut to 4 KiB and counted.
  [0xF132]: (p, ctx) => { ctx.log("y".repeat(10 * 1024 * 1024)); return { logged: true }; },
} };
`;

const REASONS: Record<string, string> = {
  null: "not-a-map",
  number: "not-a-map",
  string: "not-a-map",
  array: "not-a-map",
  kindType: "field:t",
  unknownKind: "unknown-kind",
  idType: "field:id",
  opRange: "field:op",
  mapPayload: "field:payload",
  bigintPayload: "field:payload",
  heapType: "field:heapUsed",
};

async function call(host: PluginHost, opcode: number, payload: unknown = {}) {
  return await host.dispatch({ opcode, tier: 3, payload, peer: PEER });
}

Deno.test("hostile Worker messages: refused, counted, plugin restarted, node unharmed", async () => {
  const w = await makeWorld();
  await writePlugin(w, {
    name: "hostile-w",
    version: "1.0.0",
    hostApi: "^1",
    isolation: "worker",
    ranges: [{ first: "0xF130", last: "0xF13F" }],
  }, WORKER_SRC);
  await writePolicy(w, { default: { isolation: ["worker", "process"], trusted: true } });
  const host = await startHost(w, { restartBaseMs: 1 });
  try {
    const row = () => host.list().find((s) => s.name === "hostile-w")!;
    assertEq(row().isolation, "worker");
    let restarts = 0;
    for (const [kind, reason] of Object.entries(REASONS)) {
      await until(() => row().state === "running", 10_000, `running before ${kind}`);
      const r = await call(host, 0xf130, { kind });
      assert(!r.ok && r.error.code === ErrorCode.INTERNAL_ERROR, `${kind}: ${JSON.stringify(r)}`);
      restarts++;
      await until(() => row().metrics.restarts >= restarts, 10_000, `restart after ${kind}`);
      assert((row().metrics.invalid[reason] ?? 0) > 0, `${kind} counted as ${reason}`);
    }
    await until(() => row().state === "running", 10_000, "running at the end");
    assertEq(await call(host, 0xf131), { ok: true, payload: { alive: true } }, "serves again");
    assertEq(await call(host, 0xf132), { ok: true, payload: { logged: true } }, "huge log line");
    await until(() => row().metrics.outputTruncated > 0, 5000, "long line counted");
    const kept = host.logs("hostile-w", 5).find((l) => l.includes("yyyy"))!;
    assert(kept.length < 4096 + 100, `line cut to 4 KiB, kept ${kept.length}`);
    const total = Object.values(row().metrics.invalid).reduce((a, b) => a + b, 0);
    assertEq(total, Object.keys(REASONS).length, "every hostile message counted once");
  } finally {
    await host.close();
    await dropWorld(w);
  }
});

/** 0xF140 {kind}: writes a hostile frame on the frame channel (stdout). */
const PROCESS_SRC = `
const frame = (body, len = body.length) => {
  const b = new Uint8Array(4 + body.length);
  new DataView(b.buffer).setUint32(0, len);
  b.set(body, 4);
  return b;
};
const bad = {
  nil: () => frame(new Uint8Array([0xc0])),
  notMsgpack: () => frame(new Uint8Array([0xc1, 0xc1])),
  oversized: () => frame(new Uint8Array(0), 0xffffffff),
  wrongType: () => frame(new Uint8Array([0x82, 0xa1, 0x74, 0xa3, 0x72, 0x65, 0x73, 0xa2, 0x69, 0x64, 0xc3])), // {t:"res",id:true}
};
export default { handlers: {
  [0xF140]: (p) => { Deno.stdout.writeSync(bad[p.kind]()); return new Promise(() => {}); },
  [0xF141]: () => ({ alive: true }),
} };
`;

Deno.test("hostile process frames: refused, counted, plugin restarted", async () => {
  const w = await makeWorld();
  await writePlugin(w, {
    name: "hostile-p",
    version: "1.0.0",
    hostApi: "^1",
    ranges: [{ first: "0xF140", last: "0xF14F" }],
  }, PROCESS_SRC);
  await writePolicy(w, {});
  const host = await startHost(w, { restartBaseMs: 1 });
  try {
    const row = () => host.list().find((s) => s.name === "hostile-p")!;
    const want: Record<string, string> = {
      nil: "not-a-map",
      notMsgpack: "bad-frame",
      oversized: "bad-frame",
      wrongType: "field:id",
    };
    let restarts = 0;
    for (const [kind, reason] of Object.entries(want)) {
      await until(() => row().state === "running", 15_000, `running before ${kind}`);
      const r = await call(host, 0xf140, { kind });
      assert(!r.ok && r.error.code === ErrorCode.INTERNAL_ERROR, `${kind}: ${JSON.stringify(r)}`);
      restarts++;
      await until(() => row().metrics.restarts >= restarts, 15_000, `restart after ${kind}`);
      assert((row().metrics.invalid[reason] ?? 0) > 0, `${kind} counted as ${reason}`);
    }
    await until(() => row().state === "running", 15_000, "running at the end");
    assertEq(await call(host, 0xf141), { ok: true, payload: { alive: true } });
    assert(
      host.logs("hostile-p", 50).some((l) => l.includes("protocol: ")),
      "the reason is in the plugin log",
    );
  } finally {
    await host.close();
    await dropWorld(w);
  }
});

Deno.test("an untrusted plugin asking for a Worker runs in a process", async () => {
  const w = await makeWorld();
  await writePlugin(w, {
    name: "untrusted-w",
    version: "1.0.0",
    hostApi: "^1",
    isolation: "worker",
    ranges: [{ first: "0xF150", last: "0xF15F" }],
  }, `export default { handlers: { [0xF150]: () => ({ pid: Deno.pid }) } };`);
  await writePolicy(w, { default: { isolation: ["worker", "process"] } });
  const host = await startHost(w);
  try {
    const st = host.list()[0];
    assertEq([st.state, st.isolation], ["running", "process"]);
    assert(st.refused.some((r) => r.kind === "isolation" && r.reason.includes("trusted")));
    const r = await call(host, 0xf150);
    assert(r.ok && (r.payload as { pid: number }).pid !== Deno.pid, "runs in its own process");
  } finally {
    await host.close();
    await dropWorld(w);
  }
});

interface RssReport {
  baseline: number;
  peak: number;
  result: { ok: boolean; code?: number; detail?: string };
  after: unknown;
  status: {
    state: string;
    isolation: string;
    metrics: { restarts: number; outputTruncated: number; outputDroppedBytes: number };
  };
  logs: string[];
}

/** Runs one request in a fresh node-side process and reports its RSS (see _rss_host.ts). */
async function measure(
  name: string,
  src: string,
  limits: Record<string, number>,
  wait: { restarts: number; droppedBytes: number },
): Promise<RssReport> {
  const w = await makeWorld();
  try {
    await writePlugin(w, {
      name,
      version: "1.0.0",
      hostApi: "^1",
      ranges: [{ first: "0xF160", last: "0xF16F" }],
      limits,
    }, src);
    await writePolicy(w, {});
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL("./_rss_host.ts", import.meta.url).pathname,
        JSON.stringify({
          pluginsDir: w.pluginsDir,
          policyFile: w.policyFile,
          dataDir: w.dataDir,
          plugin: name,
          opcode: 0xf160,
          timeoutMs: 30_000,
          ...wait,
        }),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.code === 0, `rss host exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(text.trim().split("\n").pop()!) as RssReport;
  } finally {
    await dropWorld(w);
  }
}

Deno.test("a 64 MB stderr line without a newline does not grow the node's memory", async () => {
  const r = await measure(
    "noisy",
    `export default { handlers: {
      [0xF160]: () => {
        const mb = new TextEncoder().encode("x".repeat(1024 * 1024));
        for (let i = 0; i < 64; i++) Deno.stderr.writeSync(mb);
        return { wrote: 64 };
      },
      [0xF161]: () => ({ alive: true }),
    } };`,
    {},
    { restarts: 0, droppedBytes: 60 * MiB },
  );
  const grew = (r.peak - r.baseline) / MiB;
  console.log(
    `stderr flood: node RSS baseline ${(r.baseline / MiB).toFixed(0)} MiB, peak +${
      grew.toFixed(1)
    } MiB, dropped ${(r.status.metrics.outputDroppedBytes / MiB).toFixed(1)} MiB`,
  );
  assert(r.result.ok, `answered: ${JSON.stringify(r.result)}`);
  assert(r.status.metrics.outputDroppedBytes >= 60 * MiB, "bytes over the rate dropped, counted");
  // The line itself is 64 MiB; holding it (or copies of it) would show far above this.
  assert(grew < 32, `node RSS grew ${grew.toFixed(1)} MiB during a 64 MiB stderr line`);
  assertEq(r.after, { alive: true }, "plugin still serving");
});

Deno.test("a process plugin allocating without bound dies at its ceiling; the node stays flat", async () => {
  const r = await measure(
    "hog",
    `export default { handlers: {
      [0xF160]: () => { const keep = []; for (;;) keep.push(new Array(1 << 16).fill(keep.length)); },
      [0xF161]: () => ({ alive: true }),
    } };`,
    { memoryMb: 64, heartbeatMs: 10_000 },
    { restarts: 1, droppedBytes: 0 },
  );
  const grew = (r.peak - r.baseline) / MiB;
  console.log(
    `allocating plugin: node RSS baseline ${(r.baseline / MiB).toFixed(0)} MiB, peak +${
      grew.toFixed(1)
    } MiB, plugin ${r.status.state} after ${r.status.metrics.restarts} restart(s)`,
  );
  assertEq(r.result.code, ErrorCode.INTERNAL_ERROR, `answer: ${JSON.stringify(r.result)}`);
  assertEq(r.result.detail, "plugin-crashed");
  assertEq(r.status.state, "running", "restarted");
  assert(grew < 32, `node RSS grew ${grew.toFixed(1)} MiB while the plugin allocated`);
  assertEq(r.after, { alive: true }, "the restarted plugin serves");
});
