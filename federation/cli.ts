/**
 * Federation subcommands (docs/OPERATOR.md): `family create|invite|list`,
 * `hub join`, `send`, `recv`, `queue list`, `status`, and the `serve`
 * extension that starts the relay/hub roles.
 *
 * Commands that only read or write the data directory (`family *`,
 * `recv`, `queue list`) work whether the node runs or not (SQLite WAL lets
 * them share the files with a running node); `send` and `status` talk to the
 * running node's admin HTTP on loopback (address from `<data>/admin.json`).
 *
 * @module
 */

import type { Command } from "commander";
import { ErrorCode, MyClerkError } from "../core/errors.ts";
import { backend as pickBackend } from "../core/crypto/mod.ts";
import { configFromOptions, fail, type ServeExtension } from "../core/cli/mod.ts";
import { intArg, MAX_TTL_SECONDS } from "../core/cli/args.ts";
import { familyLines, queueLines, statusLines } from "./cli_views.ts";
import { keyIdHex, loadOrCreateKeyFile } from "../core/node/keys.ts";
import { toBase64Url, toHex } from "./bytes.ts";
import { createInvite } from "./invite.ts";
import { encodeFamily, familyId, familyKeyId } from "./family.ts";
import {
  createFamilyKey,
  loadOrCreateTokenKey,
  paths,
  readAdmin,
  readHubState,
  writeHubState,
} from "./files.ts";
import { joinRelay } from "./hub/mod.ts";
import { openSqliteHubStore, openSqliteRelayStore } from "./store/mod.ts";
import { startFederation } from "./service.ts";

/** The `serve` extension: starts the roles of `--role` (relay, hub, both). */
export const federationExtension: ServeExtension = async (
  node,
  opts,
): Promise<() => Promise<void>> => {
  const role = node.config.role;
  if (role !== "relay" && role !== "hub" && role !== "both") return () => Promise.resolve();
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const fed = await startFederation(node, { peers: list(opts.peer), relays: list(opts.relay) });
  return () => fed.stop();
};

type Opts = Readonly<Record<string, unknown>>;

async function dataDir(o: Opts): Promise<string> {
  return (await configFromOptions({ config: o.config, data: o.data })).data;
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function admin(data: string, path: string, init?: RequestInit): Promise<unknown> {
  const a = await readAdmin(data);
  let res: Response;
  try {
    res = await fetch(`http://${a.http}${path}`, init);
  } catch (e) {
    throw new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "not-running", {
      http: a.http,
      fix: `is the node running? (serve --data ${data})`,
    }, e);
  }
  const j = await res.json() as Record<string, unknown>;
  if (!res.ok) {
    const { error: _e, detail, ...extra } = j;
    const code = (ErrorCode as Record<string, number>)[String(j.error)] ?? ErrorCode.INTERNAL_ERROR;
    throw new MyClerkError(code as typeof ErrorCode[keyof typeof ErrorCode], String(detail), extra);
  }
  return j;
}

function withData(c: Command): Command {
  return c.option("-d, --data <dir>", "data directory (default ./data)")
    .option("-c, --config <file>", "JSON config file");
}

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds the federation subcommands to `program`. */
export function registerFederationCommands(program: Command): void {
  const family = program.command("family").description("family keys, invites and records");

  withData(family.command("create"))
    .description("hub: create this hub's family key (DATA/family.key, mode 0600)")
    .argument("<name>", "display name (1-64 characters, not unique)")
    .action(async (name: string, o: Opts) => {
      try {
        if (name.length < 1 || name.length > 64) {
          throw new MyClerkError(ErrorCode.BAD_REQUEST, "name", { fix: "1-64 characters" });
        }
        const be = pickBackend();
        const data = await dataDir(o);
        await Deno.mkdir(data, { recursive: true });
        const key = await createFamilyKey(be, data);
        const id = familyId(be, key.publicKey);
        await writeHubState(data, { name, id, created: Math.floor(Date.now() / 1000) });
        console.log(
          `family ${name}\nid:     ${id}\nkey id: ${
            keyIdHex(familyKeyId(be, key.publicKey))
          }\npublic: ${toHex(key.publicKey)}`,
        );
        console.log(
          `next: get an invite from your relay's operator, then: hub join RELAY TOKEN --data ${data}`,
        );
      } catch (e) {
        fail(e);
      }
    });

  withData(family.command("invite"))
    .description("relay: create a single-use invite token for a hub (prints the token)")
    .option("--family <id>", "only this family id may redeem it")
    .option(
      "--ttl <seconds>",
      "validity (default 604800 = 7 days)",
      intArg("--ttl", 1, MAX_TTL_SECONDS, "of seconds"),
      604800,
    )
    .action(async (o: Opts) => {
      try {
        const ttl = Number(o.ttl);
        if (!Number.isInteger(ttl) || ttl < 1) {
          throw new MyClerkError(ErrorCode.BAD_REQUEST, "ttl", {
            fix: "--ttl must be a whole number of seconds >= 1 (default 604800 = 7 days)",
          });
        }
        const be = pickBackend();
        const cfg = await configFromOptions({ config: o.config, data: o.data });
        const data = cfg.data;
        await Deno.mkdir(data, { recursive: true });
        const { identity } = await loadOrCreateKeyFile(be, cfg.key ?? `${data}/node.key`);
        const tokenKey = await loadOrCreateTokenKey(be, data);
        const now = Math.floor(Date.now() / 1000);
        const inv = createInvite(be, tokenKey, {
          relayKeyId: identity.keyId,
          expires: now + ttl,
          family: o.family ? String(o.family) : undefined,
        });
        const store = openSqliteRelayStore({ path: paths(data).relayDb });
        try {
          await store.addInvite(inv.invite, now);
        } finally {
          await store.close();
        }
        console.log(inv.token);
      } catch (e) {
        fail(e);
      }
    });

  withData(family.command("list"))
    .description(
      "families known here: this hub's own, records it learned, and (relay) the families it stores",
    )
    .option("--json", "one JSON object")
    .action(async (o: Opts) => {
      try {
        const be = pickBackend();
        const data = await dataDir(o);
        const out: Record<string, unknown> = {};
        const hs = await readHubState(be, data);
        if (hs) {
          out.own = {
            id: hs.id,
            name: hs.name,
            joined: hs.relay ? { relay: hs.relay.addr, keyId: keyIdHex(hs.relay.keyId) } : null,
            ...(hs.record ? { record: toBase64Url(encodeFamily(hs.record)) } : {}),
          };
        }
        if (await exists(paths(data).hubDb)) {
          const hsDb = openSqliteHubStore(paths(data).hubDb);
          try {
            out.known = hsDb.listRecords(be).map((r) => ({
              id: r.id,
              name: r.name,
              home: keyIdHex(r.home),
            }));
          } finally {
            await hsDb.close();
          }
        }
        if (await exists(paths(data).relayDb)) {
          const st = openSqliteRelayStore({ path: paths(data).relayDb });
          try {
            const relay = [];
            for (const f of await st.listFamilies(be)) {
              relay.push({
                id: f.record.id,
                name: f.record.name,
                local: f.local,
                home: keyIdHex(f.record.home),
                ...await st.usage(f.record.id),
              });
            }
            out.relay = relay;
            out.invites = st.listInvites();
          } finally {
            await st.close();
          }
        }
        if (o.json) console.log(JSON.stringify(out));
        else for (const l of familyLines(out)) console.log(l);
      } catch (e) {
        fail(e);
      }
    });

  withData(family.command("quota"))
    .description(
      "relay: set an admitted family's own quota, applied live (the running relay reads it at its next commit); without limits: show it",
    )
    .argument("<id>", "family id (32 hex digits, from `family list`)")
    .option(
      "--max-messages <n>",
      "most messages queued for the family at once",
      intArg("--max-messages", 1, Number.MAX_SAFE_INTEGER),
    )
    .option(
      "--max-bytes <n>",
      "most sealed bytes queued for the family at once",
      intArg("--max-bytes", 1024, Number.MAX_SAFE_INTEGER),
    )
    .option("--clear", "drop the family's own quota: follow federation.quotaMessages/quotaBytes")
    .action(async (id: string, o: Opts) => {
      try {
        const data = await dataDir(o);
        const cfg = await configFromOptions({ config: o.config, data: o.data });
        const num = (v: unknown, name: string, min: number): number | undefined => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isSafeInteger(n) || n < min) {
            throw new MyClerkError(ErrorCode.BAD_REQUEST, `field:${name}`, {
              value: String(v),
              fix: `${name} must be an integer >= ${min}`,
            });
          }
          return n;
        };
        const messages = num(o.maxMessages, "max-messages", 1);
        const bytes = num(o.maxBytes, "max-bytes", 1024);
        if (!(await exists(paths(data).relayDb))) {
          throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-a-relay", {
            path: paths(data).relayDb,
            fix: "run this on the relay's data directory",
          });
        }
        const st = openSqliteRelayStore({
          path: paths(data).relayDb,
          defaultQuota: {
            messages: cfg.federation.quotaMessages,
            bytes: cfg.federation.quotaBytes,
          },
        });
        try {
          const change = o.clear ? { messages: null, bytes: null } : {
            ...(messages === undefined ? {} : { messages }),
            ...(bytes === undefined ? {} : { bytes }),
          };
          if (!await st.setQuota(id, change)) {
            throw new MyClerkError(ErrorCode.FED_UNKNOWN_FAMILY, "unknown-family", {
              family: id,
              fix: "`family list` shows the families stored here",
            });
          }
          const u = await st.usage(id);
          console.log(
            `family ${id}: quota ${u.quota.messages} messages, ${u.quota.bytes} bytes; queued ${u.messages} messages, ${u.bytes} bytes`,
          );
        } finally {
          await st.close();
        }
      } catch (e) {
        fail(e);
      }
    });

  const hub = program.command("hub").description("hub: admission to a relay");
  withData(hub.command("join"))
    .description("redeem an invite token at RELAY (HOST:PORT) with this hub's family key")
    .argument("<relay>", "relay address HOST:PORT or ws://HOST:PORT")
    .argument("<token>", "token from `family invite` on the relay")
    .action(async (relay: string, token: string, o: Opts) => {
      try {
        const be = pickBackend();
        const cfg = await configFromOptions({ config: o.config, data: o.data });
        const { identity } = await loadOrCreateKeyFile(be, cfg.key ?? `${cfg.data}/node.key`);
        const r = await joinRelay(be, identity, cfg.data, relay, token).catch((e) =>
          fail(e, { kind: "connect", addr: relay, what: "relay" })
        );
        console.log(
          `admitted: family ${r.record.id} at relay ${relay} (key id ${keyIdHex(r.relay.keyId)})`,
        );
        console.log(
          `quota: ${r.quotaMessages} messages, ${r.quotaBytes} bytes; max message ${r.maxMessage} bytes`,
        );
        console.log(`next: serve --role hub --data ${cfg.data}`);
      } catch (e) {
        fail(e);
      }
    });

  withData(program.command("send"))
    .description(
      "hub: seal FILE (or - for stdin) to a family and queue it (the running hub sends it)",
    )
    .requiredOption("--to <family>", "recipient family id (32 hex digits)")
    .argument("<file>", "FILE or -")
    .option(
      "--ttl <seconds>",
      "lifetime (default from config, 30 days)",
      intArg("--ttl", 1, MAX_TTL_SECONDS, "of seconds"),
    )
    .option(
      "--wait <ms>",
      'wait this long for the relay\'s "stored" (0-600000)',
      intArg("--wait", 0, 600_000, "of milliseconds"),
      10000,
    )
    .option("--json", "print one JSON object")
    .action(async (file: string, o: Opts) => {
      try {
        const data = await dataDir(o);
        const body = file === "-"
          ? new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer())
          : await Deno.readFile(file);
        const q = new URLSearchParams({ to: String(o.to), wait: String(o.wait) });
        if (o.ttl) q.set("ttl", String(o.ttl));
        const r = await admin(data, `/federation/send?${q}`, { method: "POST", body }) as Record<
          string,
          unknown
        >;
        if (o.json) console.log(JSON.stringify(r));
        else {
          console.log(
            `${r.state}: mid ${r.mid} (${r.size} bytes sealed) to ${o.to}${
              r.error ? ` (relay: ${r.error}; the hub resends it)` : ""
            }`,
          );
        }
        if (String(r.state).startsWith("refused")) Deno.exit(2);
      } catch (e) {
        fail(e, file === "-" ? undefined : { kind: "path", path: file, what: "message file" });
      }
    });

  withData(program.command("recv"))
    .description("hub: print (or write) messages in the inbox and remove them")
    .option("--follow", "keep waiting for more")
    .option("--out <dir>", "write each body to DIR/<mid> instead of printing it")
    .option("--json", "one JSON object per message (body base64)")
    .option("--keep", "do not remove printed messages")
    .action(async (o: Opts) => {
      try {
        const data = await dataDir(o);
        if (!(await exists(paths(data).hubDb))) {
          // Opening would create nothing useful (or fail as "damaged" in a missing directory).
          throw new MyClerkError(ErrorCode.BAD_REQUEST, "not-a-hub", {
            path: paths(data).hubDb,
            fix:
              `no hub store in ${data}: pass the hub's --data, or set it up (family create, hub join)`,
          });
        }
        const store = openSqliteHubStore(paths(data).hubDb);
        let after = 0;
        let stop = false;
        if (o.follow) Deno.addSignalListener("SIGINT", () => (stop = true));
        try {
          while (!stop) {
            const rows = store.inbox(after, 500);
            for (const r of rows) {
              const mid = toHex(r.mid);
              if (o.out) {
                await Deno.mkdir(String(o.out), { recursive: true });
                await Deno.writeFile(`${o.out}/${mid}`, r.body);
              }
              if (o.json) {
                console.log(JSON.stringify({
                  mid,
                  from: r.from,
                  ts: r.ts,
                  received: r.received,
                  size: r.body.length,
                  ...(o.out ? {} : { body: toBase64Url(r.body) }),
                }));
              } else {
                console.log(`--- from ${r.from} mid ${mid} ts ${r.ts} (${r.body.length} bytes)`);
                if (!o.out) await Deno.stdout.write(r.body), console.log();
              }
              after = r.seq;
            }
            if (rows.length && !o.keep) store.consume(after);
            if (!o.follow && rows.length < 500) break;
            if (rows.length === 0) await new Promise((r) => setTimeout(r, 200));
          }
        } finally {
          await store.close();
        }
      } catch (e) {
        fail(e);
      }
    });

  const queue = program.command("queue").description("queues in this data directory");
  withData(queue.command("list"))
    .description("relay: mailboxes and peer queues; hub: outbox")
    .option("--json", "one JSON object")
    .action(async (o: Opts) => {
      try {
        const data = await dataDir(o);
        const out: Record<string, unknown> = {};
        if (await exists(paths(data).relayDb)) {
          const st = openSqliteRelayStore({ path: paths(data).relayDb });
          try {
            const s = await st.stats();
            out.relay = {
              queuedMessages: s.queuedMessages,
              queuedBytes: s.queuedBytes,
              mailboxes: s.mailboxes,
              peers: s.peers.map((p) => ({ ...p, peer: keyIdHex(p.peer) })),
              pendingNotices: s.pendingNotices,
            };
          } finally {
            await st.close();
          }
        }
        if (await exists(paths(data).hubDb)) {
          const h = openSqliteHubStore(paths(data).hubDb);
          try {
            out.hub = {
              outbox: await h.outboxCounts(),
              inbox: await h.inboxCount(),
              pending: h.listOutbox("pending", 100).map((r) => ({
                mid: toHex(r.mid),
                to: r.to,
                size: r.size,
              })),
              refused: h.listOutbox("refused", 100).map((r) => ({
                mid: toHex(r.mid),
                to: r.to,
                why: r.detail,
              })),
            };
          } finally {
            await h.close();
          }
        }
        if (o.json) console.log(JSON.stringify(out));
        else for (const l of queueLines(out)) console.log(l);
      } catch (e) {
        fail(e);
      }
    });

  withData(program.command("status"))
    .description(
      "node health, buses and plugins; connected families and peers, queue depths (from the running node)",
    )
    .option("--json", "one JSON object")
    .action(async (o: Opts) => {
      try {
        const data = await dataDir(o);
        // /healthz always exists (node, buses, plugins); /federation/status only
        // when the node runs as relay, hub or both.
        const health = await admin(data, "/healthz") as Record<string, unknown>;
        let federation: unknown;
        try {
          federation = await admin(data, "/federation/status");
        } catch {
          federation = undefined;
        }
        const r = { node: health, ...(federation as Record<string, unknown> | undefined ?? {}) };
        if (o.json) console.log(JSON.stringify(r));
        else for (const l of statusLines(r)) console.log(l);
      } catch (e) {
        fail(e);
      }
    });
}
