/**
 * Concurrent admission (issue 10): 32 hubs joining one real relay at the
 * same moment are all admitted (before, 8 at a time made the relay answer
 * FED_ADMIT with INTERNAL_ERROR "admit": concurrent rewrites of
 * federation-hubs.json shared one temporary file), every one is recorded in
 * federation-hubs.json, and each reconnects as its family afterwards.
 */

import { assert, assertEquals } from "../_assert.ts";
import { backend } from "../../../core/crypto/mod.ts";
import { keyIdHex, loadOrCreateKeyFile } from "../../../core/node/keys.ts";
import { createInvite } from "../../../federation/invite.ts";
import {
  createFamilyKey,
  loadOrCreateTokenKey,
  paths,
  readHubKeys,
  writeHubState,
} from "../../../federation/files.ts";
import { familyId } from "../../../federation/family.ts";
import { joinRelay } from "../../../federation/hub/mod.ts";
import { openSqliteRelayStore } from "../../../federation/store/mod.ts";
import { Cluster, metric } from "./_harness.ts";

const be = backend();
const N = 32;

Deno.test({
  name: "concurrent join: 32 hubs admitted at once, none refused, all recorded",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      const relayData = c.data("relay");
      const { identity: relayId } = await loadOrCreateKeyFile(be, `${relayData}/node.key`);
      // N families and N invites, the way `family create` and `family invite` make them.
      const tokenKey = await loadOrCreateTokenKey(be, relayData);
      const now = Math.floor(Date.now() / 1000);
      const tokens: string[] = [];
      const store = openSqliteRelayStore({ path: paths(relayData).relayDb });
      try {
        for (let i = 0; i < N; i++) {
          const inv = createInvite(be, tokenKey, { relayKeyId: relayId.keyId, expires: now + 600 });
          await store.addInvite(inv.invite, now);
          tokens.push(inv.token);
        }
      } finally {
        await store.close();
      }
      const hubs: {
        data: string;
        id: string;
        nodeKey: Awaited<ReturnType<typeof loadOrCreateKeyFile>>;
      }[] = [];
      for (let i = 0; i < N; i++) {
        const data = c.data(`hub${i}`);
        await Deno.mkdir(data, { recursive: true });
        const fam = await createFamilyKey(be, data);
        const id = familyId(be, fam.publicKey);
        await writeHubState(data, { name: `h${i}`, id, created: now });
        hubs.push({ data, id, nodeKey: await loadOrCreateKeyFile(be, `${data}/node.key`) });
      }
      const results = await Promise.allSettled(
        hubs.map((h, i) => joinRelay(be, h.nodeKey.identity, h.data, relay.tcp, tokens[i], 60_000)),
      );
      const failed = results.flatMap((r, i) =>
        r.status === "rejected" ? [`hub${i}: ${String(r.reason)}`] : []
      );
      assertEquals(failed, [], "every join admitted");
      const m = await relay.metrics();
      assertEquals(metric(m, "myclerk_federation_admissions_total", 'result="ok"'), N);
      assertEquals(
        metric(m, "myclerk_federation_admissions_total", 'result="admit"'),
        0,
        "no INTERNAL_ERROR admit",
      );
      const recorded = await readHubKeys(relayData);
      assertEquals(recorded.size, N, "federation-hubs.json holds all");
      for (const h of hubs) {
        assert([...recorded.values()].includes(h.id), `${h.id} recorded`);
      }
      assertEquals(metric(m, "myclerk_federation_families_local"), N);
      assert(keyIdHex(relayId.keyId).length === 8);
    } finally {
      await c.close();
    }
  },
});
