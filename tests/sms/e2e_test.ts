/**
 * End to end (issue #13 "Done means"): a real `serve` process runs the gsm
 * plugin on the modem emulator's PTY and the SMS gateway, which reaches the
 * modem only through plugin-to-plugin calls. Family members are real client
 * sessions over TCP.
 *
 * 1. An SMS with a TAN arrives at the emulated modem; the gateway classifies
 *    it and announces it (masked) to alice and bob, not to carol (no TAN
 *    rights); alice claims it and gets the code; bob is told alice claimed
 *    it, and his own claim is refused.
 * 2. The probe target (a local TCP port) closes: the gateway declares the
 *    internet down, enters emergency mode, sends the alert SMS; STATUS and
 *    LOCATION from alice's number are answered by SMS (seen at the emulator
 *    as outgoing SMS-SUBMITs); STATUS from a stranger gets nothing.
 * 3. The port opens again: internet up, emergency mode off.
 * 4. The outbox survives a restart of the node (durable store), and a
 *    delivery report marks a sent message delivered.
 */
import { assert, assertEquals } from "../core/_assert.ts";
import { runCli, startServe } from "../_support/proc.ts";
import { Client } from "../../core/node/client.ts";
import { identityFrom } from "../../core/session/handshake.ts";
import { backend } from "../../core/crypto/mod.ts";
import { ErrorCode, type MyClerkError } from "../../core/errors.ts";
import { resolveLibrary } from "../../plugins/policy.ts";
import { ModemEmulator } from "../gsm/emulator.ts";
import { copyDir, PLUGINS_SRC } from "../plugins/_helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ALICE_NO = "+4915100000001";
const ALERT_NO = "+4915100000009";
const STRANGER = "+4917699999999";

async function until<T>(f: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out (${ms} ms) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

type Push = { op: number; p: Record<string, unknown> };

/** A request whose failure names the opcode. */
async function req(
  c: Client,
  op: number,
  payload: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  try {
    return await c.request(op, payload) as Record<string, unknown>;
  } catch (e) {
    (e as Error).message = `0x${op.toString(16)}: ${(e as Error).message}`;
    throw e;
  }
}

function member(c: Client): Push[] {
  const got: Push[] = [];
  c.onPush((op, p) => got.push({ op, p: p as Record<string, unknown> }));
  return got;
}

/** A TCP port that accepts and closes connections, and can be closed and reopened on the same port. */
class ProbeTarget {
  private l: Deno.Listener | undefined;
  private loop: Promise<void> | undefined;
  port = 0;
  open(): void {
    this.l = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.port = (this.l.addr as Deno.NetAddr).port;
    const l = this.l;
    this.loop = (async () => {
      try {
        for await (const c of l) c.close();
      } catch { /* closed */ }
    })();
  }
  async close(): Promise<void> {
    this.l?.close();
    await this.loop;
    this.l = undefined;
  }
}

Deno.test({
  name:
    "sms e2e: TAN announce/claim across family sessions; outage -> emergency mode -> SMS commands answered by SMS",
  ...opts,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "myclerk-sms-e2e-" });
    const data = `${root}/data`;
    const linkDir = `${root}/dev`;
    await Deno.mkdir(linkDir, { recursive: true });
    const emu = await ModemEmulator.start({
      dialect: "sim7600",
      libc: resolveLibrary("libc")!,
      link: `${linkDir}/modem`,
    });
    const probe = new ProbeTarget();
    probe.open();
    const b = backend();
    const ids = ["alice", "bob", "carol"].map((_, i) =>
      identityFrom(b, new Uint8Array(32).fill(i + 1))
    );
    const [alice, bob, carol] = ids;
    // Installed plugins, the operator's policy, the gsm port and the gateway's family config.
    await copyDir(`${PLUGINS_SRC}/gsm`, `${data}/plugins/gsm`);
    await copyDir(`${PLUGINS_SRC}/sms-gateway`, `${data}/plugins/sms-gateway`);
    const gm = JSON.parse(await Deno.readTextFile(`${data}/plugins/gsm/plugin.json`));
    gm.permissions.read = [...gm.permissions.read, linkDir, "/dev/pts"];
    gm.permissions.write = [...gm.permissions.write, linkDir, "/dev/pts"];
    await Deno.writeTextFile(`${data}/plugins/gsm/plugin.json`, JSON.stringify(gm));
    await Deno.writeTextFile(
      `${data}/policy.json`,
      JSON.stringify({
        version: 1,
        plugins: {
          gsm: {
            trusted: true,
            ffi: ["libc"],
            buses: ["modem"],
            read: ["$DATA", linkDir, "/dev/pts"],
            write: ["$DATA", linkDir, "/dev/pts"],
          },
          "sms-gateway": {
            read: ["$DATA"],
            write: ["$DATA"],
            net: ["127.0.0.1"],
            calls: ["0x0670-0x067F"],
            callTier: 2,
          },
        },
      }),
    );
    await Deno.mkdir(`${data}/plugin-data/gsm`, { recursive: true });
    await Deno.writeTextFile(
      `${data}/plugin-data/gsm/config.json`,
      JSON.stringify({ port: emu.link }),
    );
    await Deno.mkdir(`${data}/plugin-data/sms-gateway`, { recursive: true });
    await Deno.writeTextFile(
      `${data}/plugin-data/sms-gateway/config.json`,
      JSON.stringify({
        members: [
          {
            id: "alice",
            keyIds: [alice.keyId],
            numbers: [ALICE_NO],
            tan: true,
            emergency: true,
            admin: true,
          },
          { id: "bob", keyIds: [bob.keyId], tan: true },
          { id: "carol", keyIds: [carol.keyId], tan: false },
        ],
        emergency: {
          probes: [`127.0.0.1:${probe.port}`],
          intervalMs: 100,
          timeoutMs: 300,
          downAfter: 3,
          upAfter: 3,
          minHoldMs: 500,
          alertNumbers: [ALERT_NO],
        },
        outbox: { retryMs: 200 },
        modem: { retryMs: 300 },
      }),
    );
    const sysroot = `${root}/sysroot`;
    await Deno.mkdir(`${sysroot}/sys/class/tty/ttyUSB2/device`, { recursive: true });
    await Deno.symlink(
      "../../../../bus/usb-serial/drivers/option",
      `${sysroot}/sys/class/tty/ttyUSB2/device/driver`,
    );
    const cfg = `${root}/config.json`;
    await Deno.writeTextFile(cfg, JSON.stringify({ data, plugins: { busRoot: sysroot } }));

    // The node's gate: vendor ranges serve granted keys only (docs/OPERATOR.md); the stranger is
    // granted too, so that the gateway's own membership check is what refuses it.
    const strangerId = identityFrom(b, new Uint8Array(32).fill(9));
    for (const id of [...ids, strangerId]) {
      const hex = id.keyId.toString(16).padStart(8, "0");
      const g = await runCli(["acl", "grant", hex, "0xF350-0xF37A", "--data", data]);
      assertEquals(g.code, 0, g.stderr);
    }
    let node = await startServe(["--config", cfg], 40_000);
    const clients: Client[] = [];
    try {
      const addr = `127.0.0.1:${node.tcpPort}`;
      const ca = await Client.connect(addr, { tier: 4, identity: alice });
      const cb = await Client.connect(addr, { tier: 4, identity: bob });
      const cc = await Client.connect(addr, { tier: 4, identity: carol });
      clients.push(ca, cb, cc);
      const [pa, pb, pc] = [member(ca), member(cb), member(cc)];
      for (const c of [ca, cb, cc]) {
        const r = await req(c, 0xf352, { subscribe: true });
        assert(typeof r.member === "string", JSON.stringify(r));
      }
      // A stranger's key is no family member.
      const stranger = await Client.connect(addr, { tier: 4, identity: strangerId });
      clients.push(stranger);
      const e = await stranger.request(0xf352, {}).catch((x) => x) as MyClerkError;
      assertEquals([e.code, e.message.includes("not-a-member")], [ErrorCode.FORBIDDEN, true]);

      // The gateway initialised the modem through the gsm plugin (its own INIT call).
      let gws: Record<string, unknown> = {};
      await until(
        () => {
          void req(ca, 0xf359, {}).then((x) => (gws = x)).catch(() => {});
          return gws.modem === "ready";
        },
        20_000,
        "modem ready (gateway status)",
      );
      assert(emu.commands.some((c) => c.startsWith("AT+CNMI")), "INIT reached the emulator");

      // ---- 1. TAN
      emu.injectSms({
        from: "+4980012345",
        text:
          "Sparkasse: Ihre TAN fuer die Ueberweisung von 1.250,00 EUR an IBAN DE**4711 lautet 482913. Gueltig 5 Minuten.",
      });
      const annA = await until(
        () => pa.find((x) => x.op === 0xf363),
        20_000,
        "TAN announce at alice",
      );
      const annB = await until(() => pb.find((x) => x.op === 0xf363), 5_000, "TAN announce at bob");
      assertEquals(annA.p.tanId, annB.p.tanId);
      assert(
        !JSON.stringify(annA.p).includes("482913"),
        `announce carries no code: ${JSON.stringify(annA.p)}`,
      );
      assert(String(annA.p.masked).includes("••••••"), String(annA.p.masked));
      const claim = await req(ca, 0xf364, { tanId: annA.p.tanId });
      assertEquals([claim.code, claim.validitySec, claim.state], ["482913", 300, "claimed"]);
      const told = await until(
        () => pb.find((x) => x.op === 0xf364),
        5_000,
        "bob told of the claim",
      );
      assertEquals(told.p.claimedBy, "alice");
      const late = await cb.request(0xf364, { tanId: annA.p.tanId }).catch((x) =>
        x
      ) as MyClerkError;
      assertEquals([late.code, late.message.includes("tan-already-claimed")], [
        ErrorCode.FORBIDDEN,
        true,
      ]);
      assert(!pc.some((x) => x.op === 0xf363), "carol (no TAN rights) got no announce");

      // A delivery notice goes to everyone with its extraction.
      emu.injectSms({
        from: "DHL",
        text:
          "DHL: Ihre Sendung 00340434161234567890 wurde in die Packstation 123 gelegt. Abholcode: 555123.",
      });
      const del = await until(
        () => pc.find((x) => x.op === 0xf366),
        20_000,
        "delivery event at carol",
      );
      assertEquals([del.p.carrier, del.p.tracking], ["dhl", "00340434161234567890"]);

      // ---- 2. outage
      await until(
        () => {
          void ca.request(0xf370, {}).then((s) => (last = s as Record<string, unknown>));
          return last?.internet === "up";
        },
        10_000,
        "internet up first",
      );
      await probe.close();
      await until(() => pa.find((x) => x.op === 0xf371), 10_000, "INTERNET_DOWN at alice");
      const act = await until(
        () => pa.find((x) => x.op === 0xf379),
        5_000,
        "MODE_ACTIVATE at alice",
      );
      assertEquals([act.p.mode, act.p.manual, act.p.reason], ["emergency", false, "internet-down"]);
      assert(!pb.some((x) => x.op === 0xf379), "bob (no emergency role) got no emergency event");
      await until(
        () => emu.sent.find((s) => s.to === ALERT_NO && s.text.includes("emergency mode on")),
        15_000,
        "alert SMS at the emulator",
      );

      emu.injectSms({ from: ALICE_NO, text: "STATUS" });
      const st = await until(
        () => emu.sent.find((s) => s.to === ALICE_NO && s.text.startsWith("MyClerk: EMERGENCY")),
        20_000,
        "STATUS answer",
      );
      assert(st.text.includes("internet down"), st.text);
      emu.injectSms({ from: ALICE_NO, text: "LOCATION" });
      const loc = await until(
        () => emu.sent.find((s) => s.to === ALICE_NO && s.text.startsWith("MyClerk location")),
        30_000,
        "LOCATION answer",
      );
      assert(loc.text.includes("52.52001,13.40495"), loc.text);
      emu.injectSms({ from: STRANGER, text: "STATUS" });
      await until(
        () => pa.find((x) => x.op === 0xf374 && x.p.from === STRANGER && x.p.allowed === false),
        20_000,
        "refusal noticed",
      );
      // Let the outbox drain, then: nothing ever went to the stranger.
      await new Promise((r) => setTimeout(r, 500));
      assert(!emu.sent.some((s) => s.to === STRANGER), "no answer to a non-allowed number");

      // ---- 3. recovery
      probe.open();
      const deact = await until(
        () => pa.find((x) => x.op === 0xf37a),
        10_000,
        "MODE_DEACTIVATE at alice",
      );
      assertEquals(deact.p.mode, "normal");
      assert(pa.some((x) => x.op === 0xf372), "INTERNET_UP at alice");

      // ---- 4. outbox: delivered by report, and durable over a restart
      const sent = await req(ca, 0xf351, {
        to: "+4915100000042",
        text: "Bin gleich da",
      });
      const delivered = await until(
        () =>
          pa.find((x) => x.op === 0xf353 && x.p.msgId === sent.msgId && x.p.status === "delivered"),
        20_000,
        "delivery report",
      );
      assert(delivered);
      const draft = await req(ca, 0xf350, { to: "+4915100000043", text: "Entwurf" });
      assert(typeof draft.msgId === "string" && draft.status === "draft", JSON.stringify(draft));
      const pre = await req(ca, 0xf353, { msgId: draft.msgId });
      assertEquals(pre.status, "draft");
      // A TAN nobody claimed before the restart stays claimable after it (within its validity).
      emu.injectSms({ from: "Google", text: "G-730914 ist dein Bestätigungscode für Google." });
      const open = await until(
        () => pa.find((x) => x.op === 0xf363 && x.p.tanId !== annA.p.tanId),
        20_000,
        "second TAN announced",
      );
      assert(open);
      for (const c of clients) c.close();
      clients.length = 0;
      await node.stop();
      node = await startServe(["--config", cfg], 40_000);
      const ca2 = await Client.connect(`127.0.0.1:${node.tcpPort}`, { tier: 4, identity: alice });
      clients.push(ca2);
      const sub = await req(ca2, 0xf352, {});
      const pending = sub.pendingTans as string[];
      assertEquals(pending.length, 1, JSON.stringify(sub));
      const reclaimed = await req(ca2, 0xf364, { tanId: pending[0] });
      assertEquals(reclaimed.code, "730914");
      const again = await req(ca2, 0xf353, { msgId: draft.msgId });
      assertEquals([again.status, again.text], ["draft", "Entwurf"]);
      const old = await req(ca2, 0xf353, { msgId: sent.msgId });
      assertEquals(old.status, "delivered");
      const list = await ca2.request(0xf354, { box: "inbox" }) as {
        messages: Record<string, unknown>[];
      };
      assert(
        list.messages.some((m) =>
          m.cls === "tan" && m.claimedBy === "alice" && m.text === undefined
        ),
        JSON.stringify(list),
      );
    } finally {
      for (const c of clients) c.close();
      await node.stop();
      await probe.close();
      await emu.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});

let last: Record<string, unknown> | undefined;
