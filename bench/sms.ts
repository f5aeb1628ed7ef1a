/**
 * SMS bench (issue #13), two parts in one run:
 *
 * 1. AT part (gsm plugin): AT round trips per second through the plugin
 *    (GSM_SIGNAL_QUALITY = one `AT+CSQ` each, PluginHost.dispatch -> plugin
 *    process -> PTY -> modem emulator and back) against the same command
 *    written directly on the same emulator's PTY by this process (raw
 *    termios, poll(2) on a worker thread like the plugin), measured first,
 *    before the plugin opens the port. Target: plugin >= 0.5x direct.
 * 2. Classifier part (sms-gateway plugin): per-class precision/recall and
 *    extraction accuracy on the labelled corpus, added by the gateway's
 *    section below.
 *
 * Run: deno run --allow-all bench/sms.ts [--quick]
 *
 * @module
 */
import { resolveLibrary } from "../plugins/policy.ts";
import { startRig } from "../tests/gsm/_harness.ts";
import { classify, type SmsClass } from "../plugins/sms-gateway/classify/classify.ts";
import type { CorpusEntry } from "../tests/sms/corpus_gen.ts";
import { CLASSES, evaluate, loadCorpus, report } from "../tests/sms/_eval.ts";

const QUICK = Deno.args.includes("--quick");

// ============================================================ AT part (gsm plugin)

const AT_N = QUICK ? 300 : 3_000;
const AT_TARGET = 0.5;

const DIRECT_SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

/** `AT+CSQ` written on the tty by hand, answer read up to `OK`: round trips per second. */
async function directRate(libc: string, path: string, n: number): Promise<number> {
  const lib = Deno.dlopen(libc, DIRECT_SYMBOLS);
  const s = lib.symbols;
  const fd = s.open(new TextEncoder().encode(path + "\0"), 0o2 | 0o400 | 0o4000);
  if (fd < 0) throw new Error(`cannot open ${path}`);
  const t = new Uint8Array(64);
  s.tcgetattr(fd, t);
  s.cfmakeraw(t);
  s.tcsetattr(fd, 0, t);
  const cmd = new TextEncoder().encode("AT+CSQ\r");
  const buf = new Uint8Array(512);
  const pfd = new Uint8Array(8);
  const dv = new DataView(pfd.buffer);
  const once = async () => {
    s.write(fd, cmd, BigInt(cmd.length));
    let acc = "";
    const end = performance.now() + 2000;
    while (!acc.includes("\r\nOK\r\n")) {
      if (performance.now() > end) throw new Error(`no OK: ${JSON.stringify(acc)}`);
      dv.setInt32(0, fd, true);
      dv.setInt16(4, 1, true);
      dv.setInt16(6, 0, true);
      await s.poll(pfd, 1n, 100);
      const r = Number(s.read(fd, buf, 512n));
      if (r > 0) acc += new TextDecoder().decode(buf.subarray(0, r));
    }
    if (!acc.includes("+CSQ:")) throw new Error(`no +CSQ: ${JSON.stringify(acc)}`);
  };
  // The emulator starts with echo on like a real modem; switch it off as the plugin does.
  s.write(fd, new TextEncoder().encode("ATE0\r"), 5n);
  await new Promise((r) => setTimeout(r, 100));
  s.read(fd, buf, 512n);
  for (let i = 0; i < 50; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  const rate = n / ((performance.now() - t0) / 1000);
  s.close(fd);
  lib.close();
  return rate;
}

async function atPart(): Promise<void> {
  const libc = resolveLibrary("libc");
  if (libc === undefined) throw new Error("libc not found");
  const rig = await startRig("sim7600");
  try {
    const direct = await directRate(libc, rig.emu.link, AT_N);
    await rig.ok(0x0670, { port: rig.emu.link });
    for (let i = 0; i < 50; i++) await rig.ok(0x0673, {});
    const before = rig.emu.commands.length;
    const t0 = performance.now();
    for (let i = 0; i < AT_N; i++) await rig.ok(0x0673, {});
    const plugin = AT_N / ((performance.now() - t0) / 1000);
    const csq = rig.emu.commands.slice(before).filter((c) => c === "AT+CSQ").length;
    if (csq !== AT_N) throw new Error(`expected ${AT_N} AT+CSQ on the line, saw ${csq}`);
    const ratio = plugin / direct;
    console.log(`AT round trips (AT+CSQ, sim7600 emulator on a PTY, ${AT_N} sequential):`);
    console.log(`  direct on the PTY      ${direct.toFixed(0).padStart(7)} /s`);
    console.log(`  through the gsm plugin ${plugin.toFixed(0).padStart(7)} /s`);
    console.log(
      `target: AT round trips through the plugin >= ${AT_TARGET}x direct on the PTY: ${
        ratio.toFixed(2)
      }x ${ratio >= AT_TARGET ? "PASS" : "FAIL"}`,
    );
  } finally {
    await rig.close();
  }
}

// ============================================================ classifier part (sms-gateway plugin)
// Corpus figures (tests/sms/corpus.jsonl): per-class precision/recall/F1 and extraction accuracy
// on the held-out split, the blind set and all; the peer is a one-keyword-per-class baseline
// scored on the same messages in the same run.

/** One keyword list per class, first hit wins: what the rules are measured against. */
function baseline(text: string): SmsClass {
  const t = text.toLowerCase();
  const kw: [SmsClass, RegExp][] = [
    ["alert", /warnung|alert|warning/],
    ["tan", /\btan\b|code|otp/],
    ["delivery", /paket|sendung|parcel|package/],
    ["appointment", /termin|appointment/],
    ["spam", /gewinn|rabatt|won|free|%/],
    ["personal", /\b(?:du|ich|you|i)\b/],
  ];
  return kw.find(([, re]) => re.test(t))?.[0] ?? "unknown";
}

function macroF1(entries: readonly CorpusEntry[], f: (e: CorpusEntry) => SmsClass): number {
  let sum = 0;
  for (const k of CLASSES) {
    let tp = 0, fp = 0, fn = 0;
    for (const e of entries) {
      const got = f(e);
      if (got === k && e.label === k) tp++;
      else if (got === k) fp++;
      else if (e.label === k) fn++;
    }
    const p = tp + fp === 0 ? 1 : tp / (tp + fp);
    const r = tp + fn === 0 ? 1 : tp / (tp + fn);
    sum += p + r === 0 ? 0 : (2 * p * r) / (p + r);
  }
  return sum / CLASSES.length;
}

async function classifierPart(): Promise<void> {
  const all = await loadCorpus();
  console.log(
    `\nSMS classifier (rules: regexes + keyword evidence per language, plugins/sms-gateway/classify/)`,
  );
  const parts: [string, CorpusEntry[]][] = [
    ["held-out (templates never tuned on)", all.filter((e) => e.split === "heldout")],
    [
      "blind (set 4: written with the rules frozen, never tuned on)",
      all.filter((e) => e.split === "blind"),
    ],
    ["all", all],
  ];
  for (const [name, part] of parts) {
    if (part.length === 0) continue;
    const r = evaluate(part);
    console.log(report(name, r));
    const tan = r.classes.tan;
    const others = CLASSES.filter((k) => k !== "tan").map((k) => [k, r.classes[k].f1] as const);
    const worst = others.reduce((a, b) => (b[1] < a[1] ? b : a));
    console.log(
      `goal (${name}): TAN recall >= 0.99 and precision >= 0.97: ${tan.r.toFixed(3)}/${
        tan.p.toFixed(3)
      } ${tan.r >= 0.99 && tan.p >= 0.97 ? "PASS" : "FAIL"}; every other F1 >= 0.9: lowest ${
        worst[0]
      } ${worst[1].toFixed(3)} ${worst[1] >= 0.9 ? "PASS" : "FAIL"}`,
    );
    for (const e of r.errors.slice(0, 8)) {
      console.log(`  miss ${e.id}: ${e.gold} -> ${e.got} (${e.rule}) ${e.text.slice(0, 90)}`);
    }
  }
  const held = all.filter((e) => e.split !== "tune");
  const rules = macroF1(
    held,
    (e) => classify({ text: e.text, from: e.from, received: new Date(e.received) }).cls,
  );
  const base = macroF1(held, (e) => baseline(e.text));
  const n = QUICK ? 2_000 : 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const e = all[i % all.length];
    classify({ text: e.text, from: e.from, received: new Date(e.received) });
  }
  const rate = n / ((performance.now() - t0) / 1000);
  console.log(`classifier speed: ${rate.toFixed(0)} messages/s (one core, ${n} classifications)`);
  const ratio = rules / base;
  console.log(
    `target: rules macro-F1 (held-out + blind) vs one-keyword baseline >= 1.2x: ${
      rules.toFixed(3)
    } vs ${base.toFixed(3)} = ${ratio.toFixed(2)}x ${ratio >= 1.2 ? "PASS" : "FAIL"}`,
  );
}

// ============================================================ main

await atPart();
await classifierPart();
