/**
 * Checks a real SIM7600 / SIM800 / EC25 with the gsm plugin (what the
 * emulator cannot show, docs/PLUGINS.md §14.7). Runs the plugin in its own
 * process under PluginHost exactly as `serve` does, on the real bus
 * detection (`/`), and prints every answer and event.
 *
 *   deno run -A tests/gsm/real_modem_check.ts --port /dev/ttyUSB2 [--pin 1234] [--dialect sim800]
 *     [--to +4917612345678]   also send three SMS (7-bit with € [], 200 characters, emoji) with reports
 *     [--ussd "*100#"]        also run a USSD code
 *     [--gnss]                also switch GNSS on and wait up to 120 s for a fix
 *     [--dial +49301234567]   also place a 15 s call
 *     [--watch 60]            then print incoming SMS/calls/URC events for 60 s (pull the SIM or
 *                             the USB cable meanwhile to see no-sim / reconnecting / reinit)
 *
 * Sending SMS and calling cost money; nothing is sent without --to / --dial.
 *
 * @module
 */
import { PluginHost } from "../../plugins/runtime/host.ts";

const args = Deno.args;
const arg = (k: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = arg("--port");
if (port === undefined) {
  console.error("usage: deno run -A tests/gsm/real_modem_check.ts --port /dev/ttyUSB2 [options]");
  Deno.exit(2);
}
const root = await Deno.makeTempDir({ prefix: "myclerk-gsm-real-" });
const pluginsDir = `${root}/plugins`;
await Deno.mkdir(`${pluginsDir}/gsm`, { recursive: true });
const src = new URL("../../plugins/gsm/", import.meta.url).pathname;
for (const e of Deno.readDirSync(src)) {
  if (e.isFile) Deno.copyFileSync(`${src}${e.name}`, `${pluginsDir}/gsm/${e.name}`);
  if (e.isDirectory) {
    await Deno.mkdir(`${pluginsDir}/gsm/${e.name}`);
    for (const f of Deno.readDirSync(`${src}${e.name}`)) {
      Deno.copyFileSync(`${src}${e.name}/${f.name}`, `${pluginsDir}/gsm/${e.name}/${f.name}`);
    }
  }
}
// The port may be a UART outside the modem bus: grant it by path too.
const mf = `${pluginsDir}/gsm/plugin.json`;
const m = JSON.parse(Deno.readTextFileSync(mf));
m.permissions.read.push(port);
m.permissions.write.push(port);
m.permissions.buses = [];
Deno.writeTextFileSync(mf, JSON.stringify(m));
Deno.writeTextFileSync(
  `${root}/policy.json`,
  JSON.stringify({
    version: 1,
    plugins: {
      gsm: { trusted: true, ffi: ["libc"], read: ["$DATA", port], write: ["$DATA", port] },
    },
  }),
);
const host = await PluginHost.start({
  pluginsDir,
  policyFile: `${root}/policy.json`,
  dataDir: root,
  busRoot: "/",
  log: (r) => console.log("host:", JSON.stringify(r)),
});
host.onEvent((e) => {
  if (e.sessionId === undefined) {
    console.log(`event 0x${e.opcode.toString(16)}`, JSON.stringify(e.payload));
  }
});
const peer = { sessionId: 1, keyId: 1, tier: 3, remote: "real-modem-check" };
async function op(name: string, opcode: number, payload: Record<string, unknown>) {
  const r = await host.dispatch({ opcode, tier: 3, payload, peer });
  console.log(
    `${name}:`,
    r.ok ? JSON.stringify(r.payload) : `ERROR ${r.error.message} ${JSON.stringify(r.error.extra)}`,
  );
  return r.ok ? r.payload as Record<string, unknown> : undefined;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  const init = await op("INIT", 0x0670, {
    port,
    ...(arg("--pin") ? { pin: arg("--pin") } : {}),
    ...(arg("--dialect") ? { dialect: arg("--dialect") } : {}),
    subscribe: false,
  });
  if (init === undefined) {
    console.log(host.logs("gsm", 50).join("\n"));
    Deno.exit(1);
  }
  await op("STATUS", 0x0671, {});
  await op("NETWORK_REG", 0x0672, {});
  await op("SIGNAL_QUALITY", 0x0673, {});
  await op("SMS_LIST", 0x0676, { status: "all" });
  const to = arg("--to");
  if (to !== undefined) {
    for (
      const text of [
        "MyClerk 7-bit: € [ok] {x} ^",
        "MyClerk long ".repeat(16),
        "MyClerk UCS-2 😀 Grüße",
      ]
    ) {
      await op("SMS_SEND", 0x0674, { to, text, report: true });
    }
    console.log("waiting 60 s for status reports (events above)...");
    await sleep(60_000);
  }
  const ussd = arg("--ussd");
  if (ussd !== undefined) await op("USSD_SEND", 0x0678, { code: ussd, timeoutMs: 30_000 });
  if (args.includes("--gnss")) {
    await op("GNSS_ENABLE", 0x067a, { enable: true });
    for (let i = 0; i < 24; i++) {
      const p = await op("GNSS_POSITION", 0x067b, {});
      if (p === undefined || p.fix === true) break;
      await sleep(5000);
    }
  }
  const dial = arg("--dial");
  if (dial !== undefined) {
    await op("VOICE_DIAL", 0x067d, { number: dial });
    await sleep(15_000);
    await op("VOICE_HANGUP", 0x067e, {});
  }
  const watch = Number(arg("--watch") ?? 0);
  if (watch > 0) {
    console.log(`watching events for ${watch} s...`);
    await sleep(watch * 1000);
    await op("STATUS", 0x0671, {});
  }
} finally {
  await host.close();
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
