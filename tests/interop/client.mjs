// Usage: node tests/interop/client.mjs HOST:PORT TIER [UNSERVED_OPCODE]
// Handshake at TIER (min-tier = TIER), KEEPALIVE round trip with an id, a request to an
// unserved opcode (default 0x0700, unassigned -> UNSUPPORTED), SESSION_CLOSE.
// Prints JSON {tier, rttMs, error:{code, detail}} and exits 0 on success.

import { Client, OP } from "./mcp0.mjs";

const [addr, tierArg, opArg] = process.argv.slice(2);
if (!addr || tierArg === undefined) {
  console.error("usage: node client.mjs HOST:PORT TIER [UNSERVED_OPCODE]");
  process.exit(2);
}
const i = addr.lastIndexOf(":");
const host = addr.slice(0, i).replace(/^\[|\]$/g, ""), port = Number(addr.slice(i + 1));
const tier = Number(tierArg);
const unserved = opArg ? Number(opArg) : 0x0700;

const c = new Client(host, port, {
  tier,
  minTier: tier,
  timeoutMs: 5000,
  encrypt: process.env.MCP0_PLAIN !== "1",
});
const watchdog = setTimeout(() => {
  console.error("client: overall timeout");
  process.exit(3);
}, 20000);
try {
  await c.connect();
  if (c.selectedTier !== tier) throw new Error(`negotiated tier ${c.selectedTier}, asked ${tier}`);
  const rttMs = await c.keepalive();
  const r = await c.request(unserved, {});
  if (r.m.opcode !== OP.ERROR) {
    throw new Error(
      `expected ERROR for opcode 0x${unserved.toString(16)}, got 0x${r.m.opcode.toString(16)}`,
    );
  }
  if (r.body.opcode !== unserved) throw new Error(`ERROR.opcode ${r.body.opcode} != ${unserved}`);
  if (r.body.re !== c.nextId - 1) {
    throw new Error(`ERROR.re ${r.body.re} != request id ${c.nextId - 1}`);
  }
  await c.close();
  clearTimeout(watchdog);
  console.log(JSON.stringify({
    tier: c.selectedTier,
    rttMs: Math.round(rttMs * 1000) / 1000,
    error: { code: r.body.code, detail: r.body.detail ?? null },
    sessionId: c.sessionId,
    serverKeyId: c.serverKeyId,
    ticket: c.ticket ? { bytes: c.ticket.ticket?.length, lifetime: c.ticket.lifetime } : null,
    dropped: c.dropped,
  }));
  process.exit(0);
} catch (e) {
  clearTimeout(watchdog);
  c.destroy();
  console.error(`client: ${e.message}${e.body ? " " + JSON.stringify(e.body) : ""}`);
  process.exit(1);
}
