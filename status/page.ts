/**
 * The status page: one self-contained HTML document (inline CSS, inline
 * script, SVG charts drawn by the script; nothing loaded from elsewhere, so
 * it works offline and under a `default-src 'none'` CSP). It polls
 * `/status/api` every 2 s and builds the DOM with `textContent` only (ids
 * and plugin names never become markup).
 *
 * @module
 */

const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d2330;--mut:#667085;--ok:#127a3a;--bad:#b42318;--warn:#b54708;--line:#e4e7ec;--acc:#2e5aac}
@media (prefers-color-scheme:dark){:root{--bg:#11141a;--card:#1a1f29;--fg:#e6e9ef;--mut:#98a2b3;--line:#2b3240;--acc:#7aa2f7;--ok:#4ade80;--bad:#f87171;--warn:#fbbf24}}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:baseline;padding:.8rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
header h1{font-size:1.1rem;margin:0}header .kv{color:var(--mut)}header .kv b{color:var(--fg);font-weight:600}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1rem;padding:1rem}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:.95rem;margin:0 0 .5rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:.8rem}
.chart .t{display:flex;justify-content:space-between;color:var(--mut);font-size:.8rem}.chart .t b{color:var(--fg)}
svg{width:100%;height:70px;display:block}svg .ln{fill:none;stroke:var(--acc);stroke-width:1.5}svg .ar{fill:var(--acc);opacity:.12}svg .ax{stroke:var(--line)}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid var(--line);white-space:nowrap}th{color:var(--mut);font-weight:500}
td.n{text-align:right;font-variant-numeric:tabular-nums}.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
td.mono{white-space:normal;word-break:break-all;min-width:9ch}td.id{min-width:17ch}td.grants{white-space:normal;overflow-wrap:anywhere;min-width:28ch;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}td.grants div{margin:.1rem 0}
.pill{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.75rem;border:1px solid currentColor}
.on{color:var(--ok)}.off{color:var(--mut)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.empty{color:var(--mut);font-style:italic}#err{display:none;background:var(--bad);color:#fff;padding:.4rem 1rem}
@media (max-width:480px){main{padding:.5rem;gap:.5rem;grid-template-columns:1fr}section{padding:.6rem}header{padding:.6rem}}
`;

const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return e;
}
function age(s) {
  if (s == null) return "-";
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 86400) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
function bytes(n) {
  if (n == null) return "-";
  const u = ["B", "KiB", "MiB", "GiB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}
function pill(on, yes, no) { return el("span", { class: "pill " + (on ? "on" : "off") }, on ? yes : no); }
function table(id, head, rows, empty) {
  const box = $(id); box.replaceChildren();
  if (!rows.length) { box.append(el("div", { class: "empty" }, empty)); return; }
  const t = el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
  const tb = el("tbody"); for (const r of rows) tb.append(r); t.append(tb); box.append(t);
}
function chart(id, xs, ys, fmt) {
  const W = 300, H = 70, svg = $(id + "-svg");
  const max = Math.max(1, ...ys);
  const t0 = xs.length ? xs[0] : 0, t1 = xs.length ? xs[xs.length - 1] : 1, span = Math.max(1, t1 - t0);
  const pts = ys.map((y, i) => [((xs[i] - t0) / span) * W, H - 2 - (y / max) * (H - 6)]);
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const ax = document.createElementNS(ns, "line");
  ax.setAttribute("class", "ax"); ax.setAttribute("x1", 0); ax.setAttribute("x2", W); ax.setAttribute("y1", H - 1); ax.setAttribute("y2", H - 1);
  svg.append(ax);
  if (pts.length > 1) {
    const d = pts.map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + "," + p[1].toFixed(1)).join("");
    const ar = document.createElementNS(ns, "path"); ar.setAttribute("class", "ar"); ar.setAttribute("d", d + "L" + W + "," + H + "L0," + H + "Z");
    const ln = document.createElementNS(ns, "path"); ln.setAttribute("class", "ln"); ln.setAttribute("d", d);
    svg.append(ar, ln);
  }
  $(id + "-now").textContent = ys.length ? fmt(ys[ys.length - 1]) : "-";
  $(id + "-max").textContent = "max " + fmt(ys.length ? Math.max(...ys) : 0);
  $(id).setAttribute("data-points", String(ys.length));
}
function render(s) {
  const n = s.node || {};
  $("role").textContent = n.role ?? "?";
  $("keyid").textContent = n.keyId ?? "?";
  $("version").textContent = n.version ?? "?";
  $("uptime").textContent = age(n.uptimeSeconds);
  $("conns").textContent = (n.connections ?? 0) + " / " + (n.sessions ?? 0);
  $("health").replaceChildren(el("span", { class: "pill " + (n.status === "ok" ? "on" : "bad") }, n.status ?? "?"));
  $("updated").textContent = new Date(s.now).toLocaleTimeString();
  $("updated").setAttribute("data-now", String(s.now));
  $("queued-total").textContent = s.totals.depth + " msgs, " + bytes(s.totals.queuedBytes);
  $("drops-total").textContent = String(s.totals.drops);
  const se = s.series;
  chart("c-rate", se.t, se.rate, (v) => v.toFixed(1) + "/s");
  chart("c-depth", se.t, se.depth, (v) => String(v));
  chart("c-drops", se.t, se.drops, (v) => String(v));
  table("families", ["state", "family", "", "sessions", "queued", "bytes", "oldest"], s.families.map((f) =>
    el("tr", { "data-family": f.id, "data-online": String(f.online), "data-queued": String(f.queued) },
      el("td", { class: "state" }, pill(f.online, "online", "offline")),
      el("td", { class: "mono id" }, f.id), el("td", {}, f.kind),
      el("td", { class: "n" }, f.sessions), el("td", { class: "n queued" }, f.queued),
      el("td", { class: "n" }, bytes(f.bytes)), el("td", { class: "n" }, age(f.oldestAgeSec)))), "no families yet");
  table("queues", ["queue", "messages", "oldest", "for", "bytes"], s.queues.map((q) =>
    el("tr", { "data-queue": q.kind + ":" + q.id, "data-depth": String(q.depth) },
      el("td", {}, q.kind), el("td", { class: "n depth" }, q.depth), el("td", { class: "n" }, age(q.ageSec)),
      el("td", { class: "mono" }, q.id), el("td", { class: "n" }, bytes(q.bytes)))), "all queues empty");
  const peers = s.peers.map((p) => el("tr", { "data-peer": p.keyId, "data-connected": String(!!p.connected) },
    el("td", { class: "mono" }, p.keyId), el("td", {}, pill(!!p.connected, "up", "down")),
    el("td", { class: "n" }, p.routes ?? 0), el("td", { class: "n" }, p.depth ?? 0), el("td", { class: "n" }, bytes(p.bytes ?? 0))));
  table("peers", ["peer key", "link", "routes", "queued", "bytes"], peers,
    s.configuredPeers.length ? "configured, none seen yet: " + s.configuredPeers.join(", ") : "no peer relays");
  table("plugins", ["plugin", "version", "state", "isolation", "granted"], s.plugins.map((p) => {
    const g = p.granted || {};
    const grants = Object.entries(g).filter(([, v]) => Array.isArray(v) ? v.length : v && Object.keys(v).length)
      .map(([k, v]) => el("div", {}, k + ": " + (Array.isArray(v) ? v.join(", ") : Object.keys(v).join(", "))));
    const st = p.state === "running" ? "on" : p.state === "crashed" || p.state === "failed" || p.state === "invalid" ? "bad" : "warn";
    return el("tr", { "data-plugin": p.name, "data-state": p.state },
      el("td", {}, p.name), el("td", {}, p.version), el("td", {}, el("span", { class: "pill " + st, title: p.reason || "" }, p.state)),
      el("td", {}, p.isolation), el("td", { class: "grants" }, ...(grants.length ? grants : ["nothing"])));
  }), "no plugins installed");
  const b = s.buses && Array.isArray(s.buses.buses) ? s.buses.buses : [];
  table("buses", ["bus", "present", "devices"], b.map((x) => el("tr", { "data-bus": x.kind },
    el("td", {}, x.kind), el("td", {}, pill(!!x.present, "yes", "no")), el("td", { class: "mono" }, (x.devices || []).join(" ") || "-"))),
    "bus detection not available");
}
async function poll() {
  try {
    const r = await fetch("/status/api", { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    $("err").style.display = "none";
  } catch (e) {
    $("err").textContent = "cannot reach the node: " + e.message + " (retrying)";
    $("err").style.display = "block";
  }
}
poll();
setInterval(poll, 2000);
`;

function chartBox(id: string, title: string): string {
  return `<div class="chart" id="${id}"><div class="t"><span>${title}</span><span><b id="${id}-now">-</b> · <span id="${id}-max"></span></span></div><svg id="${id}-svg" viewBox="0 0 300 70" preserveAspectRatio="none" role="img" aria-label="${title}"></svg></div>`;
}

/** The complete page (HTML, no external resources). */
export const PAGE: string = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>MyClerk node status</title>
<style>${CSS}</style></head>
<body>
<header><h1>MyClerk node</h1>
<span class="kv">role <b id="role">…</b></span>
<span class="kv">key <b id="keyid" class="mono">…</b></span>
<span class="kv">version <b id="version">…</b></span>
<span class="kv">up <b id="uptime">…</b></span>
<span class="kv">conns/sessions <b id="conns">…</b></span>
<span class="kv" id="health"></span>
<span class="kv">updated <b id="updated">…</b></span></header>
<div id="err"></div>
<main>
<section class="wide"><h2>Last hour</h2><div class="charts">
${chartBox("c-rate", "messages / s")}
${chartBox("c-depth", "queued messages")}
${chartBox("c-drops", "drops per sample")}
</div><div class="t" style="color:var(--mut);font-size:.8rem;margin-top:.4rem">queued now <b id="queued-total">-</b> · drops since start <b id="drops-total">-</b></div></section>
<section class="wide"><h2>Families and hubs</h2><div class="scroll" id="families"></div></section>
<section><h2>Queues</h2><div class="scroll" id="queues"></div></section>
<section><h2>Peer relays</h2><div class="scroll" id="peers"></div></section>
<section class="wide"><h2>Plugins</h2><div class="scroll" id="plugins"></div></section>
<section><h2>Buses</h2><div class="scroll" id="buses"></div></section>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
