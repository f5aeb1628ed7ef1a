/**
 * The core subcommands: `serve`, `keys generate|show`, `inspect`, `ping`.
 *
 * @module
 */
import type { Command } from "commander";
import { ErrorCode, isMyClerkError, MyClerkError } from "../errors.ts";
import { backend as pickBackend, type BackendName } from "../crypto/mod.ts";
import { defaultConfig, loadConfigFile, type NodeConfig, validateConfig } from "../node/config.ts";
import { Node } from "../node/node.ts";
import { CORE } from "../node/metrics.ts";
import { Client } from "../node/client.ts";
import { fromHex, generateKeyFile, keyIdHex, readKeyFile, toHex } from "../node/keys.ts";
import type { Tier } from "../wire/header.ts";
import { inspectBytes } from "./inspect.ts";
import { hostPortArg, intArg, tierArg } from "./args.ts";
import { explainOsError, type OsAction, probeListen } from "./oserror.ts";
import { type Role, roleConflicts } from "./roles.ts";
import { lockDataDir } from "../node/datadir.ts";
import {
  grant,
  loadAcl,
  parseRange,
  parseSubject,
  rangeText,
  revoke,
  saveAcl,
} from "../node/acl.ts";

/** A layer that extends a serving node (plugins, relay); returns its shutdown. */
export type ServeExtension = (
  node: Node,
  opts: Readonly<Record<string, unknown>>,
) => Promise<() => Promise<void>>;

/**
 * Prints an error the way every subcommand does and exits 1. An OS error
 * (also as the cause of another) is put in words by oserror.ts, with `at`
 * naming what the command was doing (the address dialed, the path opened).
 */
export function fail(e: unknown, at?: OsAction): never {
  const os = explainOsError(e, at);
  if (os !== undefined) {
    console.error(`error: ${os}`);
  } else if (isMyClerkError(e)) {
    const problems = e.extra.problems;
    if (Array.isArray(problems)) {
      console.error(`error: invalid ${e.detail}:`);
      for (const p of problems) console.error(`  - ${p}`);
    } else {
      const extra = Object.entries(e.extra).filter(([, v]) => v !== undefined).map(([k, v]) =>
        `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`
      );
      console.error(`error: ${e.message}${extra.length ? ` (${extra.join(", ")})` : ""}`);
    }
  } else {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  }
  Deno.exit(1);
}

/**
 * Prints `problems` as a usage error and exits 2 (like commander's own usage
 * errors): the command was given something it cannot use, nothing was done.
 */
export function usage(problems: readonly string[]): never {
  for (const p of problems) console.error(`error: ${p}`);
  console.error("(run with --help for usage)");
  Deno.exit(2);
}

/** The config file as written (before defaults), for checks of what the user set. */
async function rawConfig(path: unknown): Promise<unknown> {
  if (!path) return undefined;
  try {
    return JSON.parse(await Deno.readTextFile(String(path)));
  } catch {
    return undefined; // loadConfigFile has reported it already
  }
}

// deno-doc-ignore private-type-ref -- NodeConfig lives in config.ts (zod-inferred, outside doc lint)
/** Builds the node config from defaults, `--config FILE` and flags. */
export async function configFromOptions(o: Readonly<Record<string, unknown>>): Promise<NodeConfig> {
  const base: Record<string, unknown> = o.config
    ? await loadConfigFile(String(o.config))
    : defaultConfig();
  const merged = structuredClone(base) as Record<string, unknown>;
  const sub = (k: string) => (merged[k] ?? {}) as Record<string, unknown>;
  if (o.data) merged.data = o.data;
  if (o.key) merged.key = o.key;
  if (o.role) merged.role = o.role;
  if (o.tcp) merged.listen = { ...sub("listen"), tcp: o.tcp };
  if (o.http) merged.listen = { ...sub("listen"), http: o.http };
  if (o.minTier !== undefined) merged.tiers = { ...sub("tiers"), min: Number(o.minTier) };
  if (o.maxTier !== undefined) merged.tiers = { ...sub("tiers"), max: Number(o.maxTier) };
  if (o.log) merged.log = { ...sub("log"), format: o.log };
  if (o.logLevel) merged.log = { ...sub("log"), level: o.logLevel };
  return validateConfig(merged, o.config ? String(o.config) : "flags");
}

/**
 * `serve`'s SIGHUP: rebuilds the config from the same `--config` file and
 * flags, and applies it (`Node#reload`). An invalid config is refused, logged
 * with every problem, and the old one stays in force.
 */
export async function reloadServe(node: Node, o: Readonly<Record<string, unknown>>): Promise<void> {
  let next: NodeConfig;
  try {
    next = await configFromOptions(o);
    // A key the role ignores is refused on reload as at start (the old config stays).
    const conflicts = roleConflicts(
      next.role as Role,
      o,
      await rawConfig(o.config),
      o.config ? String(o.config) : "config",
    );
    if (conflicts.length) {
      throw new MyClerkError(ErrorCode.BAD_REQUEST, "config", { problems: conflicts });
    }
  } catch (e) {
    const problems = isMyClerkError(e) && Array.isArray(e.extra.problems)
      ? e.extra.problems.map(String)
      : [e instanceof Error ? e.message : String(e)];
    node.metrics.inc(CORE.reloads, { result: "refused" });
    node.log.error("config reload refused", { problems, kept: "previous config" });
    return;
  }
  const r = await node.reload(next);
  if (!r.ok) {
    node.metrics.inc(CORE.reloads, { result: "refused" });
    node.log.error("config reload refused", { problems: r.problems, kept: "previous config" });
    return;
  }
  node.log.info("config reloaded", { changed: r.changed, hookErrors: r.hookErrors });
}

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds the core subcommands to `program`; `extensions` run inside `serve`. */
export function registerCoreCommands(
  program: Command,
  extensions: readonly ServeExtension[] = [],
): void {
  program
    .command("serve")
    .description(
      "start a node (embedded defaults: TCP 0.0.0.0:5657, HTTP/WebSocket 0.0.0.0:8080, data in ./data)",
    )
    .option("-c, --config <file>", "JSON config file (see README, 'Configuration')")
    .option("-d, --data <dir>", "data directory (key, store, plugins)")
    .option("--key <file>", "static key file (default DATA/node.key, created when missing)")
    .option("--role <role>", "node | relay | hub | both")
    .option("--tcp <host:port>", "TCP listen address", hostPortArg("--tcp"))
    .option(
      "--http <host:port>",
      "HTTP listen address (/myclerk WebSocket, /healthz, /metrics)",
      hostPortArg("--http"),
    )
    .option("--min-tier <n>", "lowest tier this node accepts", tierArg("--min-tier"))
    .option("--max-tier <n>", "highest tier this node offers", tierArg("--max-tier"))
    .option("--log <format>", "text | json")
    .option("--log-level <level>", "debug | info | warn | error")
    .option("--crypto <backend>", "libcrypto | node | noble (default: the fastest that works here)")
    .option(
      "--relay <addr>",
      "hub: relay to connect to (repeatable)",
      (v: string, a: string[] = []) => [...a, v],
    )
    .option(
      "--peer <addr>",
      "relay: peer relay to connect to (repeatable)",
      (v: string, a: string[] = []) => [...a, v],
    )
    .action(async (o: Record<string, unknown>) => {
      let node: Node;
      const stops: (() => Promise<void>)[] = [];
      let at: OsAction | undefined;
      try {
        const cfg = await configFromOptions(o);
        const conflicts = roleConflicts(
          cfg.role as Role,
          o,
          await rawConfig(o.config),
          o.config ? String(o.config) : "config",
        );
        if (conflicts.length) usage(conflicts);
        // One serve per data directory, private modes (core/node/datadir.ts); before anything
        // in it is read or written.
        at = { kind: "path", path: cfg.data, what: "data directory", flag: "--data" };
        const lock = lockDataDir(cfg.data);
        // Bind-and-close both listeners first: "address in use" then names the one that is.
        at = undefined;
        await probeListen(cfg.listen.tcp, "--tcp");
        await probeListen(cfg.listen.http, "--http");
        at = cfg.key
          ? { kind: "path", path: cfg.key, what: "key file", flag: "--key" }
          : { kind: "path", path: cfg.data, what: "data directory", flag: "--data" };
        node = await Node.start(cfg, {
          backend: o.crypto ? pickBackend(o.crypto as BackendName) : undefined,
          holdUntilReady: true,
        });
        at = undefined;
        if (lock.fixed.length) node.log.warn("data dir modes fixed", { fixed: lock.fixed });
        for (const ext of extensions) stops.push(await ext(node, o));
        node.markReady();
        node.log.info("node ready", {
          tcp: `${node.addresses.tcp.hostname}:${node.addresses.tcp.port}`,
          http: `${node.addresses.http.hostname}:${node.addresses.http.port}`,
          keyId: keyIdHex(node.identity.keyId),
        });
      } catch (e) {
        fail(e, at);
      }
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        node.log.info("shutting down");
        for (const s of stops.reverse()) await s().catch(() => {});
        await node.close();
        Deno.exit(0);
      };
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
      // SIGHUP re-reads the config file (and acl.json) and applies it without dropping sessions.
      let reloading = Promise.resolve();
      Deno.addSignalListener("SIGHUP", () => {
        reloading = reloading.then(() => reloadServe(node, o));
      });
    });

  const acl = program
    .command("acl")
    .description(
      "who may call which opcode ranges beyond the node's own family (DATA/acl.json, 0600; a running serve applies changes on SIGHUP)",
    );
  const subjectHelp =
    "KEYID (8 hex digits, from `keys show FILE`) or FAMILY_ID (32 hex digits, from `family create`)";
  const rangeHelp = 'opcode range "0xFIRST-0xLAST" or one opcode "0xNNNN", e.g. 0xF100-0xF10F';
  acl
    .command("grant")
    .description("let a key or a family call an opcode range")
    .argument("<subject>", subjectHelp)
    .argument("<range>", rangeHelp)
    .option("-d, --data <dir>", "data directory of the node", "./data")
    .action(async (subject: string, range: string, o: { data: string }) => {
      try {
        const g = { subject: parseSubject(subject), ...parseRange(range) };
        const path = await saveAcl(o.data, grant(await loadAcl(o.data), g));
        console.log(
          `granted ${g.subject} ${rangeText(g.first, g.last)} in ${path}\n` +
            "a running serve applies it on SIGHUP (kill -HUP PID) or restart",
        );
      } catch (e) {
        fail(e);
      }
    });
  acl
    .command("revoke")
    .description("take an opcode range away from a key or a family (splits wider grants)")
    .argument("<subject>", subjectHelp)
    .argument("<range>", rangeHelp)
    .option("-d, --data <dir>", "data directory of the node", "./data")
    .action(async (subject: string, range: string, o: { data: string }) => {
      try {
        const g = { subject: parseSubject(subject), ...parseRange(range) };
        const r = revoke(await loadAcl(o.data), g);
        if (!r.changed) {
          console.error(
            `error: ${g.subject} holds no grant inside ${
              rangeText(g.first, g.last)
            }: see \`acl list --data ${o.data}\``,
          );
          Deno.exit(1);
        }
        const path = await saveAcl(o.data, r.acl);
        console.log(
          `revoked ${g.subject} ${rangeText(g.first, g.last)} in ${path}\n` +
            "a running serve applies it on SIGHUP (kill -HUP PID) or restart",
        );
      } catch (e) {
        fail(e);
      }
    });
  acl
    .command("list")
    .description("print every grant")
    .option("-d, --data <dir>", "data directory of the node", "./data")
    .option("--json", "print JSON")
    .action(async (o: { data: string; json?: boolean }) => {
      try {
        const a = await loadAcl(o.data);
        if (o.json) {
          console.log(JSON.stringify(a.grants.map((g) => ({
            subject: g.subject,
            range: rangeText(g.first, g.last),
          }))));
          return;
        }
        if (a.grants.length === 0) {
          console.log("no grants (only the node's own family may call plugin ranges)");
          return;
        }
        for (const g of a.grants) console.log(`${g.subject}  ${rangeText(g.first, g.last)}`);
      } catch (e) {
        fail(e);
      }
    });

  const keys = program.command("keys").description("static X25519 identity keys");
  keys
    .command("generate")
    .description("generate a key file (mode 0600; refuses to overwrite)")
    .option("-o, --out <file>", "where to write it", "node.key")
    .action(async (o: { out: string }) => {
      try {
        const id = await generateKeyFile(pickBackend(), o.out);
        console.log(
          `wrote ${o.out} (mode 0600)\nkey id: ${keyIdHex(id.keyId)}\npublic: ${
            toHex(id.publicKey)
          }`,
        );
      } catch (e) {
        if (isMyClerkError(e) && e.detail === "exists") {
          console.error(
            `error: ${o.out} already exists; not overwriting it (choose another --out, or move the old key away)`,
          );
          Deno.exit(1);
        }
        fail(e);
      }
    });
  keys
    .command("show")
    .description("print a key file's key id and public key")
    .argument("<file>", "key file")
    .action(async (file: string) => {
      try {
        const id = await readKeyFile(pickBackend(), file);
        console.log(`key id: ${keyIdHex(id.keyId)}\npublic: ${toHex(id.publicKey)}`);
      } catch (e) {
        fail(e, { kind: "path", path: file, what: "key file" });
      }
    });

  program
    .command("inspect")
    .description(
      "decode a message (hex, a binary file, or - for stdin) and say what is wrong with a bad one",
    )
    .argument("<input>", "HEX | FILE | -")
    .action(async (input: string) => {
      let bytes: Uint8Array;
      try {
        if (input === "-") {
          const raw = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
          const text = new TextDecoder().decode(raw).trim();
          bytes = /^[0-9a-fA-F\s]+$/.test(text) && text.length > 0 ? fromHex(text) : raw;
        } else if (/^(0x)?[0-9a-fA-F\s]+$/.test(input) && input.length % 2 === 0) {
          bytes = fromHex(input);
        } else {
          const raw = await Deno.readFile(input);
          const text = new TextDecoder().decode(raw).trim();
          bytes = /^[0-9a-fA-F\s]+$/.test(text) && text.length > 0 ? fromHex(text) : raw;
        }
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          console.error(
            `error: "${input}" is neither hex (even number of 0-9a-f digits) nor a readable file`,
          );
          Deno.exit(1);
        }
        fail(e);
      }
      const r = inspectBytes(bytes, pickBackend());
      for (const l of r.lines) console.log(l);
      if (!r.ok) Deno.exit(2);
    });

  program
    .command("ping")
    .description(
      "handshake with a node, send KEEPALIVEs, print the negotiated tier and round-trip times",
    )
    .argument("<addr>", "HOST:PORT (TCP, default port 5657) or ws://HOST:PORT[/myclerk]")
    .option("-t, --tier <n>", "highest tier to ask for (0-5)", tierArg("--tier"), 5)
    .option("--min-tier <n>", "lowest tier to accept (0-5)", tierArg("--min-tier"), 0)
    .option("-n, --count <n>", "number of KEEPALIVEs (1-100000)", intArg("-n", 1, 100_000), 3)
    .option("--key <file>", "use this static key (default: a fresh one)")
    .option("--expect-key <keyid>", "fail unless the node's key id is this (8 hex digits)")
    .option("--json", "print one JSON object")
    .action(async (addr: string, o: Record<string, string | boolean | number>) => {
      try {
        const b = pickBackend();
        const identity = o.key ? await readKeyFile(b, String(o.key)) : undefined;
        const c = await Client.connect(addr, {
          backend: b,
          identity,
          tier: o.tier as Tier,
          minTier: o.minTier as Tier,
          expectKeyId: o.expectKey ? parseInt(String(o.expectKey), 16) : undefined,
        });
        const rtts: number[] = [];
        for (let i = 0; i < Number(o.count); i++) rtts.push(await c.ping());
        const st = c.session.state;
        if (o.json) {
          console.log(JSON.stringify({
            addr,
            transport: c.conn.kind,
            tier: c.tier,
            session: st.sessionId,
            peerKeyId: keyIdHex(st.peerKeyId),
            handshakeMs: +c.handshakeMs.toFixed(3),
            rttMs: rtts.map((x) => +x.toFixed(3)),
          }));
        } else {
          console.log(
            `connected to ${addr} over ${c.conn.kind}: tier ${c.tier}, session ${st.sessionId}, node key id ${
              keyIdHex(st.peerKeyId)
            }`,
          );
          console.log(`handshake: ${c.handshakeMs.toFixed(2)} ms`);
          rtts.forEach((r, i) => console.log(`keepalive ${i + 1}: rtt ${r.toFixed(3)} ms`));
        }
        c.close();
        await c.waitClosed();
      } catch (e) {
        fail(e, { kind: "connect", addr, what: "node" });
      }
    });
}
