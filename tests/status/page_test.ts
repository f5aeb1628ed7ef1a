/**
 * The status page in headless Chromium (Debian `chromium`, driven by
 * playwright-core) against real processes: a relay, hub alice online, hub bob
 * offline while alice sends to him (his mailbox fills at the relay), then bob
 * comes online and the mailbox drains. The page must show the family ids,
 * their online state, the queue count going up and back to empty, the charts
 * filling, and must load nothing from anywhere but the node. Screenshots at a
 * desktop and a phone width are kept in tests/status/artifacts/.
 *
 * Also: access control (a proxied request needs the token; bearer, cookie via
 * `?token=`), and `status-page` printing the URL with the 0600 token.
 */

import { chromium, type Page } from "npm:playwright-core@1.65.1";
import { assert, assertEquals } from "../federation/_assert.ts";
import { cliOk, Cluster, peeredRelays, until } from "../federation/integration/_harness.ts";
import { requireBinary } from "../_support/real.ts";

const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * One read of an attribute, or null when no element matches right now. The page
 * rebuilds its tables on every refresh, so `count()` then `getAttribute()` is a
 * race: a row that goes away between the two leaves getAttribute waiting 30 s.
 */
function attrNow(page: Page, selector: string, name: string): Promise<string | null> {
  return page.evaluate(
    `document.querySelector(${JSON.stringify(selector)})?.getAttribute(${
      JSON.stringify(name)
    }) ?? null`,
  ) as Promise<string | null>;
}

Deno.test({
  name: "status page: families, online state, queues draining, charts, in Chromium",
  ...requireBinary("chromium"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    Deno.env.set("MYCLERK_STATUS_SAMPLE_MS", "300"); // inherited by the serve children
    const c = await Cluster.create();
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      // root in a CI container: Chromium's own sandbox needs user namespaces it may not get
      args: Deno.uid() === 0 ? ["--no-sandbox"] : [],
    });
    try {
      // a real plugin at the relay: the page shows its state and what the policy granted
      await Deno.mkdir(c.data("relay"), { recursive: true });
      await Deno.copyFile(`${ROOT}plugins/policy.example.json`, `${c.data("relay")}/policy.json`);
      await cliOk([
        "plugin",
        "install",
        `${ROOT}plugins/examples/vendor-echo`,
        "--data",
        c.data("relay"),
        "--policy",
        `${c.data("relay")}/policy.json`,
      ]);
      const relay = await c.serve("relay", ["--role", "relay"]);
      const alice = await c.joinedHub("alice", "relay", relay.tcp);
      const bob = await c.joinedHub("bob", "relay", relay.tcp);
      const a = await c.serve("alice", ["--role", "hub"]);
      await a.waitLog((j) => j.msg === "relay session up");

      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const foreign: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith(`http://${relay.http}/`)) foreign.push(r.url());
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://${relay.http}/`);
      const row = (id: string) => page.locator(`#families tr[data-family="${id}"]`);
      await row(alice).waitFor({ timeout: 10_000 });
      assertEquals(await page.textContent("#role"), "relay");
      assertEquals(await row(alice).getAttribute("data-online"), "true");
      assertEquals((await row(alice).locator("td.id").textContent())?.trim(), alice);
      assertEquals((await row(alice).locator(".state").textContent())?.trim(), "online");
      await row(bob).waitFor({ timeout: 5_000 }); // admitted, never connected
      assertEquals((await row(bob).locator(".state").textContent())?.trim(), "offline");

      const plug = page.locator(`#plugins tr[data-plugin="vendor-echo"]`);
      await until(
        async () =>
          (await attrNow(page, `#plugins tr[data-plugin="vendor-echo"]`, "data-state")) ===
            "running",
        20_000,
        "vendor-echo running on the page",
      );
      const grants = (await plug.locator("td.grants").textContent()) ?? "";
      assert(grants.includes(`read: ${c.data("relay")}`), `grants shown: ${grants}`);
      assert(
        (await page.locator('#buses tr[data-bus="serial"]').count()) === 1,
        "buses listed",
      );

      // bob offline: alice's messages wait in his mailbox at the relay
      const N = 25;
      for (let i = 0; i < N; i++) {
        const r = await a.send(bob, `status page message ${i}`, { wait: 5000 });
        assertEquals(r.status, 200, JSON.stringify(r.json));
      }
      const mbox = page.locator(`#queues tr[data-queue="mailbox:${bob}"]`);
      await until(
        async () =>
          (await attrNow(page, `#queues tr[data-queue="mailbox:${bob}"]`, "data-depth")) ===
            String(N),
        10_000,
        `page showing ${N} queued for bob`,
      );
      assertEquals((await mbox.locator(".depth").textContent())?.trim(), String(N));
      assertEquals(await row(bob).getAttribute("data-queued"), String(N));
      // the charts got samples and saw the traffic and the depth
      await until(
        async () => Number(await page.getAttribute("#c-depth", "data-points")) > 3,
        10_000,
        "chart points",
      );
      const maxRate = await page.textContent("#c-rate-max");
      assert(maxRate && Number(/max ([\d.]+)/.exec(maxRate)?.[1]) > 0, `rate chart: ${maxRate}`);
      await until(
        async () => /max 25$/.test((await page.textContent("#c-depth-max")) ?? ""),
        10_000,
        "depth chart max 25",
      );
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}/relay-desktop.png`, fullPage: true });
      const phone = await browser.newPage({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
      });
      await phone.goto(`http://${relay.http}/`);
      await phone.locator(`#queues tr[data-queue="mailbox:${bob}"]`).waitFor({ timeout: 10_000 });
      await until(
        async () => Number(await phone.getAttribute("#c-rate", "data-points")) > 1,
        10_000,
        "phone chart points",
      );
      // nothing wider than the phone's viewport except inside the scrollable tables
      const overflow = await phone.evaluate("document.documentElement.scrollWidth") as number;
      assert(overflow <= 390, `phone layout overflows: scrollWidth ${overflow}`);
      await phone.screenshot({ path: `${ARTIFACTS}/relay-phone.png`, fullPage: true });

      // bob comes online: his mailbox drains and the page follows
      const b = await c.serve("bob", ["--role", "hub"]);
      await b.waitLog((j) => j.msg === "relay session up");
      await until(
        async () => (await row(bob).getAttribute("data-online")) === "true",
        10_000,
        "bob online on the page",
      );
      await until(async () => (await mbox.count()) === 0, 15_000, "bob's mailbox gone from page");
      assertEquals(await row(bob).getAttribute("data-queued"), "0");
      await page.screenshot({ path: `${ARTIFACTS}/relay-desktop-drained.png`, fullPage: true });

      // the hub's own page: its family, its relay connection, its outbox
      const hp = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await hp.goto(`http://${a.http}/`);
      await hp.locator(`#families tr[data-family="${alice}"]`).waitFor({ timeout: 10_000 });
      assertEquals(
        await hp.locator(`#families tr[data-family="${alice}"]`).getAttribute("data-online"),
        "true",
      );
      await hp.locator(`#queues tr[data-queue="outbox:${alice}"]`).waitFor({ timeout: 5_000 });
      await hp.screenshot({ path: `${ARTIFACTS}/hub-desktop.png`, fullPage: true });

      assertEquals(foreign, [], "the page loaded something from elsewhere");
      assertEquals(errors, [], "page script errors");
      console.log(`status page screenshots: ${ARTIFACTS}`);
    } finally {
      await browser.close();
      await c.close();
      Deno.env.delete("MYCLERK_STATUS_SAMPLE_MS");
    }
  },
});

Deno.test({
  name: "status page: proxied callers need the token; status-page prints it (0600)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      const base = `http://${relay.http}`;
      const out = await cliOk(["status-page", "--data", c.data("relay"), "--host", relay.http]);
      const token = /\?token=([0-9a-f]{64})$/.exec(out.trim())?.[1];
      assert(token, `status-page output: ${out}`);
      const st = await Deno.stat(`${c.data("relay")}/status.token`);
      assertEquals(st.mode! & 0o777, 0o600);
      assertEquals((await Deno.readTextFile(`${c.data("relay")}/status.token`)).trim(), token);

      const code = async (path: string, h: Record<string, string> = {}) => {
        const r = await fetch(base + path, { headers: h, redirect: "manual" });
        await r.body?.cancel();
        return r;
      };
      const fwd = { "x-forwarded-for": "203.0.113.9" };
      assertEquals((await code("/")).status, 200); // loopback, not proxied
      assertEquals((await code("/", fwd)).status, 401);
      assertEquals((await code("/status/api", fwd)).status, 401);
      assertEquals((await code("/status/api", { forwarded: "for=203.0.113.9" })).status, 401);
      assertEquals(
        (await code("/status/api", { ...fwd, authorization: `Bearer ${"0".repeat(64)}` })).status,
        401,
      );
      assertEquals(
        (await code("/status/api", { ...fwd, authorization: `Bearer ${token}` })).status,
        200,
      );
      const wrong = await code(`/?token=${"f".repeat(64)}`, fwd);
      assertEquals(wrong.status, 401);
      const r = await code(`/?token=${token}`, fwd);
      assertEquals(r.status, 303);
      assertEquals(r.headers.get("location"), "/");
      const cookie = r.headers.get("set-cookie") ?? "";
      assert(/HttpOnly/.test(cookie) && /SameSite=Strict/.test(cookie), cookie);
      const jar = cookie.split(";")[0];
      const api = await fetch(`${base}/status/api`, { headers: { ...fwd, cookie: jar } });
      assertEquals(api.status, 200);
      const j = await api.json();
      assertEquals(j.node.role, "relay");
      assert(Array.isArray(j.series.t) && j.series.t.length >= 1, "series present");
      const page = await fetch(`${base}/`);
      const csp = page.headers.get("content-security-policy") ?? "";
      assert(/default-src 'none'/.test(csp), csp);
      const html = await page.text();
      assert(!/\bsrc=["']?https?:/i.test(html) && !/href=["']?https?:/i.test(html), "external ref");
      // the other routes still answer as before: the root mount is "/" only
      assertEquals((await code("/healthz")).status, 200);
      assertEquals((await code("/myclerk")).status, 426);
      assertEquals((await code("/nope")).status, 404);
    } finally {
      await c.close();
    }
  },
});

Deno.test({
  name: "status page: peer relays up, then down, in Chromium",
  ...requireBinary("chromium"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: Deno.uid() === 0 ? ["--no-sandbox"] : [],
    });
    try {
      const { r1, r2, k2, p2 } = await peeredRelays(c);
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`http://${r1.http}/`);
      const peer = page.locator(`#peers tr[data-peer="${k2}"]`);
      await peer.waitFor({ timeout: 10_000 });
      await until(
        async () =>
          (await attrNow(page, `#peers tr[data-peer="${k2}"]`, "data-connected")) === "true",
        10_000,
        "peer up on the page",
      );
      await page.screenshot({ path: `${ARTIFACTS}/relay-peers.png`, fullPage: true });
      await r2.stop();
      await until(
        async () => {
          const up = await attrNow(page, `#peers tr[data-peer="${k2}"]`, "data-connected");
          // gone as a session: listed as configured only
          return up === null
            ? ((await page.textContent("#peers")) ?? "").includes(p2)
            : up === "false";
        },
        15_000,
        "peer down on the page",
      );
    } finally {
      await browser.close();
      await c.close();
    }
  },
});
