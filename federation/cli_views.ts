/**
 * The human (non `--json`) output of `status`, `queue list` and
 * `family list`: the same objects the `--json` paths print, laid out as
 * aligned tables (core/cli/table.ts) with ages and sizes in units. Pure.
 *
 * @module
 */
import {
  ageOf,
  formatAge,
  formatBytes,
  formatCount,
  keyValues,
  table,
  yesNo,
} from "../core/cli/table.ts";

/** A JSON object as the `--json` paths print it. */
export type Obj = Readonly<Record<string, unknown>>;

const obj = (v: unknown): Obj => (v && typeof v === "object" ? v as Obj : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);
const num = (v: unknown): number => (typeof v === "number" ? v : Number(v ?? NaN));
const str = (v: unknown): string => (v === undefined || v === null ? "-" : String(v));
/** Receive time of the oldest message (unix seconds, 0 = empty) as an age. */
const oldest = (v: unknown, now: number): string => (num(v) > 0 ? ageOf(num(v), now) : "-");

function section(title: string, lines: readonly string[]): string[] {
  return ["", `${title}:`, ...lines.map((l) => (l ? `  ${l}` : ""))];
}

/** Queue rows: mailboxes of families, or lanes to peer relays. */
function mailboxes(rows: unknown, now: number): string[] {
  return table(arr(rows), [
    { header: "FAMILY", cell: (r) => str(r.family) },
    { header: "MESSAGES", cell: (r) => formatCount(num(r.depth)), align: "right" },
    { header: "SIZE", cell: (r) => formatBytes(num(r.bytes)), align: "right" },
    { header: "OLDEST", cell: (r) => oldest(r.oldest, now), align: "right" },
  ], "(no messages waiting)");
}

function hubOutbox(o: Obj): string {
  return `pending ${num(o.pending) || 0}, stored ${num(o.stored) || 0}, expired ${
    num(o.expired) || 0
  }, refused ${num(o.refused) || 0}`;
}

/**
 * `status`: `r` is `{ node: /healthz, role, keyId, relay?, hub? }` (what
 * `status --json` prints). `now` in unix seconds.
 */
export function statusLines(r: Obj, now = Date.now() / 1000): string[] {
  const n = obj(r.node);
  const listen = obj(n.listen);
  const addr = (a: unknown) => `${str(obj(a).hostname)}:${str(obj(a).port)}`;
  const out = keyValues([
    ["node", `${str(n.keyId)} (role ${str(n.role)}, ${str(n.status)})`],
    ["version", `${str(n.version)} (profile ${str(n.profile)})`],
    ["uptime", formatAge(num(n.uptimeSeconds))],
    ["listen", `tcp ${addr(listen.tcp)}, http ${addr(listen.http)}`],
    ["sessions", `${num(n.sessions) || 0} (${num(n.connections) || 0} connections)`],
  ]);
  const relay = r.relay === undefined ? undefined : obj(r.relay);
  if (relay) {
    out.push(
      ...section("relay", [
        ...keyValues([
          ["families", `${num(relay.families) || 0} (${num(relay.localFamilies) || 0} local)`],
          [
            "queued",
            `${formatCount(num(relay.queuedMessages))} messages, ${
              formatBytes(num(relay.queuedBytes))
            }`,
          ],
          ["invites open", String(num(relay.invitesOpen) || 0)],
          ["expiry notices", String(num(relay.pendingNotices) || 0)],
        ]),
        "",
        "hubs online:",
        ...table(arr(relay.hubs), [
          { header: "FAMILY", cell: (h) => str(h.family) },
          { header: "SESSIONS", cell: (h) => str(h.sessions), align: "right" },
          { header: "CREDIT", cell: (h) => str(h.credit), align: "right" },
          { header: "IN FLIGHT", cell: (h) => str(h.inflight), align: "right" },
        ], "(no hub connected)"),
        "",
        "peer relays:",
        ...table(arr(relay.peers), [
          { header: "KEY ID", cell: (p) => str(p.keyId) },
          { header: "CONNECTED", cell: (p) => yesNo(p.connected as boolean | undefined) },
          { header: "ROUTES", cell: (p) => str(p.routes), align: "right" },
          { header: "QUEUED", cell: (p) => formatCount(num(p.depth)), align: "right" },
          { header: "SIZE", cell: (p) => formatBytes(num(p.bytes)), align: "right" },
          { header: "OLDEST", cell: (p) => oldest(p.oldest, now), align: "right" },
        ], "(no peer relays)"),
        ...(Array.isArray(relay.configuredPeers) && relay.configuredPeers.length
          ? [`dialing: ${relay.configuredPeers.map(String).join(", ")}`]
          : []),
        "",
        "mailboxes:",
        ...mailboxes(relay.mailboxes, now),
      ]),
    );
  }
  const hub = r.hub === undefined ? undefined : obj(r.hub);
  if (hub) {
    const relays = Array.isArray(hub.relays) ? hub.relays.map(String) : [];
    out.push(
      ...section(
        "hub",
        keyValues([
          ["family", str(hub.family)],
          [
            "relay session",
            `${hub.connected ? "up" : "down"} (${num(hub.connects) || 0} connects)`,
          ],
          ["relays", relays.length ? relays.join(", ") : "(none: run `hub join`)"],
          ["outbox", hubOutbox(obj(hub.outbox))],
          ["in flight", String(num(hub.inflight) || 0)],
          ["inbox", `${num(hub.inbox) || 0} messages (read with \`recv\`)`],
        ]),
      ),
    );
  }
  const buses = arr(obj(n.buses).buses);
  if (buses.length) {
    out.push(...section(
      "buses",
      table(buses, [
        { header: "KIND", cell: (b) => str(b.kind) },
        { header: "PRESENT", cell: (b) => yesNo(b.present as boolean | undefined) },
        {
          header: "DEVICES",
          cell: (b) => (Array.isArray(b.devices) && b.devices.length ? b.devices.join(", ") : "-"),
        },
      ]),
    ));
  }
  if (Array.isArray(n.plugins)) {
    out.push(...section(
      "plugins",
      table(arr(n.plugins), [
        { header: "NAME", cell: (p) => str(p.name) },
        { header: "VERSION", cell: (p) => str(p.version) },
        { header: "STATE", cell: (p) => str(p.state) },
      ], "(no plugins installed)"),
    ));
  }
  return out;
}

/** `queue list`: `{ relay?, hub? }` as `queue list --json` prints it. */
export function queueLines(q: Obj, now = Date.now() / 1000): string[] {
  const out: string[] = [];
  if (q.relay !== undefined) {
    const r = obj(q.relay);
    out.push(
      `relay: ${formatCount(num(r.queuedMessages))} messages queued, ${
        formatBytes(num(r.queuedBytes))
      }; ${num(r.pendingNotices) || 0} expiry notices waiting`,
      "",
      "mailboxes:",
      ...mailboxes(r.mailboxes, now).map((l) => `  ${l}`),
      "",
      "to peer relays:",
      ...table(arr(r.peers), [
        { header: "PEER", cell: (p) => str(p.peer) },
        { header: "MESSAGES", cell: (p) => formatCount(num(p.depth)), align: "right" },
        { header: "SIZE", cell: (p) => formatBytes(num(p.bytes)), align: "right" },
        { header: "OLDEST", cell: (p) => oldest(p.oldest, now), align: "right" },
      ], "(nothing queued for peers)").map((l) => `  ${l}`),
    );
  }
  if (q.hub !== undefined) {
    const h = obj(q.hub);
    if (out.length) out.push("");
    out.push(
      `hub: outbox ${hubOutbox(obj(h.outbox))}; inbox ${num(h.inbox) || 0} messages`,
      "",
      "pending (waiting for the relay's stored):",
      ...table(arr(h.pending), [
        { header: "MID", cell: (m) => str(m.mid) },
        { header: "TO", cell: (m) => str(m.to) },
        { header: "SIZE", cell: (m) => formatBytes(num(m.size)), align: "right" },
      ], "(none)").map((l) => `  ${l}`),
      "",
      "refused by the relay:",
      ...table(arr(h.refused), [
        { header: "MID", cell: (m) => str(m.mid) },
        { header: "TO", cell: (m) => str(m.to) },
        { header: "WHY", cell: (m) => str(m.why) },
      ], "(none)").map((l) => `  ${l}`),
    );
  }
  return out.length ? out : ["no relay or hub store in this data directory (nothing queued)"];
}

/** `family list`: `{ own?, known?, relay?, invites? }` as `family list --json` prints it. */
export function familyLines(f: Obj, now = Date.now() / 1000): string[] {
  const out: string[] = [];
  if (f.own !== undefined) {
    const o = obj(f.own);
    const j = o.joined ? obj(o.joined) : undefined;
    out.push(
      "this hub's family:",
      ...keyValues([
        ["name", str(o.name)],
        ["id", str(o.id)],
        ["relay", j ? `${str(j.relay)} (key id ${str(j.keyId)})` : "(not joined: `hub join`)"],
      ]).map((l) => `  ${l}`),
    );
  }
  if (f.known !== undefined) {
    if (out.length) out.push("");
    out.push(
      "families this hub has records of:",
      ...table(arr(f.known), [
        { header: "ID", cell: (r) => str(r.id) },
        { header: "NAME", cell: (r) => str(r.name) },
        { header: "HOME RELAY", cell: (r) => str(r.home) },
      ], "(none)").map((l) => `  ${l}`),
    );
  }
  if (f.relay !== undefined) {
    if (out.length) out.push("");
    out.push(
      "families stored at this relay:",
      ...table(arr(f.relay), [
        { header: "ID", cell: (r) => str(r.id) },
        { header: "NAME", cell: (r) => str(r.name) },
        { header: "LOCAL", cell: (r) => yesNo(r.local as boolean | undefined) },
        { header: "HOME", cell: (r) => str(r.home) },
        { header: "QUEUED", cell: (r) => formatCount(num(r.messages)), align: "right" },
        { header: "SIZE", cell: (r) => formatBytes(num(r.bytes)), align: "right" },
        {
          header: "QUOTA",
          cell: (r) =>
            `${formatCount(num(obj(r.quota).messages))} / ${formatBytes(num(obj(r.quota).bytes))}`,
          align: "right",
        },
      ], "(none admitted yet: `family invite`, then the hub runs `hub join`)").map((l) => `  ${l}`),
    );
  }
  if (f.invites !== undefined) {
    out.push(
      "",
      "invites:",
      ...table(arr(f.invites), [
        { header: "TOKEN ID", cell: (i) => str(i.tokenId) },
        { header: "FOR FAMILY", cell: (i) => (i.family === undefined ? "any" : str(i.family)) },
        {
          header: "STATE",
          cell: (i) =>
            i.redeemedBy !== undefined
              ? `redeemed by ${str(i.redeemedBy)}`
              : num(i.expires) <= now
              ? "expired"
              : `open, expires in ${formatAge(num(i.expires) - now)}`,
        },
      ], "(none)").map((l) => `  ${l}`),
    );
  }
  return out.length ? out : ["no family key, records or relay store in this data directory"];
}
