/**
 * A recipient hub session in its own process, so that a test can stop it
 * (SIGSTOP: it stops reading its socket, as a hung hub does) and resume it
 * (SIGCONT). Args: relay address, the hub's node.key path, its family id.
 * Opens the session with FED_HELLO and FED_FETCH (credit 1000, window
 * 64 MiB), acks every FED_DELIVER "delivered" at once with one more credit,
 * prints `ready` once the session is up, and runs until killed.
 */

import { backend } from "../../../core/crypto/mod.ts";
import { Client } from "../../../core/node/client.ts";
import { loadOrCreateKeyFile } from "../../../core/node/keys.ts";
import { decodeFed, encodeFed, FedOp } from "../../../federation/messages.ts";
import { hello } from "../../../bench/_relay_ours.ts";

const [addr, keyPath, family] = Deno.args;
const be = backend();
const { identity } = await loadOrCreateKeyFile(be, keyPath);
const c = await Client.connect(addr, { backend: be, identity, tier: 5, minTier: 4 });
c.onRaw((op, bytes) => {
  if (op !== FedOp.FED_DELIVER) return;
  const m = decodeFed(be, op, bytes);
  if (m.op !== FedOp.FED_DELIVER) return;
  c.send(FedOp.FED_ACK, encodeFed({ op: FedOp.FED_ACK, kind: "delivered", family, mids: [m.mid] }));
  c.send(FedOp.FED_FETCH, encodeFed({ op: FedOp.FED_FETCH, family, credit: 1 }));
});
c.send(FedOp.FED_HELLO, hello(identity, [family]));
c.send(
  FedOp.FED_FETCH,
  encodeFed({ op: FedOp.FED_FETCH, family, credit: 1000, maxBytes: 64 * 1_048_576 }),
);
console.log("ready");
await new Promise(() => {});
