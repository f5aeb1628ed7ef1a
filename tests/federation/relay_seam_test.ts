/**
 * The relay's seams, exercised in-process on real sockets: `Relay.start`
 * takes its store and its hub-key record as options (the edge relay passes
 * Deno KV and no file system). A real hub join (`joinRelay`, the CLI's code)
 * over TCP is admitted into an in-memory SQLite store, the admitted key goes
 * to the given HubKeyStore (no `federation-hubs.json` is written), the
 * `families_local` gauge counts it when FED_ADMITTED arrives, and stop
 * closes the store.
 */

import { assert, assertEquals } from "./_assert.ts";
import { backend } from "../../core/crypto/mod.ts";
import { Node } from "../../core/node/node.ts";
import { validateConfig } from "../../core/node/config.ts";
import { createLogger } from "../../core/node/log.ts";
import { loadOrCreateKeyFile } from "../../core/node/keys.ts";
import { toHex } from "../../federation/bytes.ts";
import { familyId } from "../../federation/family.ts";
import { createFamilyKey, paths, writeHubState } from "../../federation/files.ts";
import { joinRelay } from "../../federation/hub/mod.ts";
import { createInvite } from "../../federation/invite.ts";
import { FED } from "../../federation/metrics.ts";
import { type HubKeyStore, Relay } from "../../federation/relay/mod.ts";
import { openSqliteRelayStore } from "../../federation/store/mod.ts";
import type { FamilyId } from "../../federation/family.ts";

const be = backend();

Deno.test({
  name: "relay seam: store and hub-key record are options; a real join lands in both",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "myclerk-relay-seam-" });
    const relayData = `${dir}/relay`;
    const hubData = `${dir}/hub`;
    await Deno.mkdir(relayData);
    await Deno.mkdir(hubData);
    const node = await Node.start(
      validateConfig({
        data: relayData,
        role: "relay",
        listen: { tcp: "127.0.0.1:0", http: "127.0.0.1:0" },
      }),
      { log: createLogger({ sink: () => {} }) },
    );
    const store = openSqliteRelayStore({ path: ":memory:", synchronous: "NORMAL" });
    const saved: ReadonlyMap<string, FamilyId>[] = [];
    const hubKeys: HubKeyStore = {
      load: () => Promise.resolve(new Map()),
      save: (m) => {
        saved.push(new Map(m));
        return Promise.resolve();
      },
    };
    const tokenKey = be.randomBytes(32);
    let relay: Relay | undefined;
    try {
      relay = await Relay.start(node, { peers: [], tokenKey, store, hubKeys });
      const now = Math.floor(Date.now() / 1000);
      const inv = createInvite(be, tokenKey, {
        relayKeyId: node.identity.keyId,
        expires: now + 600,
      });
      await store.addInvite(inv.invite, now);
      const fam = await createFamilyKey(be, hubData);
      const id = familyId(be, fam.publicKey);
      await writeHubState(hubData, { name: "seam", id, created: now });
      const hubKey = await loadOrCreateKeyFile(be, `${hubData}/node.key`);
      await joinRelay(
        be,
        hubKey.identity,
        hubData,
        `127.0.0.1:${node.addresses.tcp.port}`,
        inv.token,
        20_000,
      );
      // Recorded in the store passed in, nowhere else.
      assertEquals(saved.length, 1);
      assertEquals(saved[0].get(toHex(hubKey.identity.publicKey)), id);
      const onDisk = await Deno.stat(paths(relayData).hubs).then(() => true, () => false);
      assert(!onDisk, "no federation-hubs.json written");
      const f = await store.getFamily(be, id);
      assert(f?.local === true, "homed here");
      // The gauge's snapshot was refreshed before FED_ADMITTED left.
      const line = node.metrics.render().split("\n").find((l) =>
        l.startsWith(`${FED.familiesLocal.name} `)
      );
      assertEquals(line, `${FED.familiesLocal.name} 1`);
      assertEquals(relay.localFamilies, 1);
      const st = await relay.status();
      assertEquals(st.localFamilies, 1);
    } finally {
      await relay?.stop();
      await node.close();
      await Deno.remove(dir, { recursive: true });
    }
    // stop closed the store it was given.
    const closed = await store.stats().then(() => false, () => true);
    assert(closed, "store closed by Relay.stop");
  },
});
