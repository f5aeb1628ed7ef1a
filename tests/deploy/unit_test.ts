/**
 * deploy/myclerk.service and deploy/install.sh, for real:
 * - install.sh into a temp prefix (the deno binary copied from this one, or
 *   `MYCLERK_DEPLOY_NPM=1` to fetch it from the npm registry as an operator would);
 * - `systemd-analyze verify` on the installed unit (every path exists);
 * - `systemd-analyze security --offline=yes`: exposure ≤ 2.0;
 * - the unit's ExecStart (with its Environment) run as an unprivileged user
 *   (setpriv: new uid/gid, no groups, no capabilities, no_new_privs) against a
 *   temp StateDirectory, with the module cache read-only to that user and no
 *   network beyond loopback: it must come up as a relay, answer `ping`, reload
 *   on SIGHUP (ExecReload) and stop cleanly on SIGTERM.
 * systemd itself cannot be PID 1 here (see docs/OPERATOR.md "Deploy"), so the
 * sandbox directives are checked by systemd-analyze, not enforced by a run.
 */

import { assert, assertEquals } from "../federation/_assert.ts";
import { requireBinary } from "../_support/real.ts";
import { cliOk, freePort, until } from "../federation/integration/_harness.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const NOBODY = 65534;

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** Key=value lines of one section of a unit file (repeated keys kept in order). */
function unitKeys(text: string, section: string): [string, string][] {
  const out: [string, string][] = [];
  let cur = "";
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (l.startsWith("[")) cur = l;
    else if (cur === `[${section}]` && l && !l.startsWith("#")) {
      const i = l.indexOf("=");
      out.push([l.slice(0, i), l.slice(i + 1)]);
    }
  }
  return out;
}

Deno.test({
  name: "deploy: install.sh + systemd unit verify, exposure ≤ 2, ExecStart as an unprivileged user",
  ...requireBinary("systemd-analyze", "setpriv"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "myclerk-deploy-" });
    await Deno.chmod(tmp, 0o755); // the service user must reach PREFIX (as /opt would be)
    try {
      const prefix = `${tmp}/opt`, etc = `${tmp}/etc`, units = `${tmp}/units`;
      const args = ["--prefix", prefix, "--etc", etc, "--unit-dir", units];
      if (Deno.env.get("MYCLERK_DEPLOY_NPM") !== "1") args.push("--deno", Deno.execPath());
      const inst = await run(`${REPO}/deploy/install.sh`, args);
      assertEquals(inst.code, 0, `install.sh: ${inst.err}`);
      assert(/installed deno 2\.9\.6/.test(inst.out), inst.out);
      const unitPath = `${units}/myclerk.service`;
      const unit = await Deno.readTextFile(unitPath);

      const verify = await run("systemd-analyze", ["verify", unitPath]);
      assertEquals(verify.code, 0, `verify: ${verify.out}${verify.err}`);
      // the checked-in unit too (its /opt paths do not exist here: only that error is allowed)
      const v2 = await run("systemd-analyze", ["verify", `${REPO}/deploy/myclerk.service`]);
      const other = (v2.out + v2.err).split("\n").filter((l) =>
        l.trim() && !/is not executable: No such file or directory/.test(l)
      );
      assertEquals(other, [], "checked-in unit: verify complaints");

      const sec = await run("systemd-analyze", ["security", "--offline=yes", unitPath]);
      const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(sec.out + sec.err)?.[1]);
      console.log(`systemd-analyze security: exposure ${score}`);
      assert(score <= 2.0, `exposure ${score} > 2:\n${sec.out}`);

      const svc = unitKeys(unit, "Service");
      const get = (k: string) => svc.filter(([a]) => a === k).map(([, b]) => b);
      assertEquals(get("DynamicUser"), ["yes"]);
      assertEquals(get("StateDirectory"), ["myclerk"]);
      assertEquals(get("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
      assertEquals(get("Restart"), ["on-failure"]);
      const exec = get("ExecStart")[0];
      assert(exec.startsWith(`${prefix}/bin/deno run --cached-only`), exec);
      assert(/ --role relay --config \S+\/relay\.json/.test(exec), exec);
      assert(!/npx|npm/.test(exec), "no npm at start");

      // ExecStart as the service would run it: its env, a fresh state dir, an unprivileged uid
      const state = `${tmp}/state`;
      await Deno.mkdir(state, { mode: 0o700 });
      await Deno.chown(state, NOBODY, NOBODY);
      const tcp = freePort(), http = freePort();
      const cfg = JSON.parse(await Deno.readTextFile(`${etc}/relay.json`));
      cfg.data = state;
      cfg.listen = { tcp: `127.0.0.1:${tcp}`, http: `127.0.0.1:${http}` };
      await Deno.writeTextFile(`${etc}/relay.json`, JSON.stringify(cfg));
      const argv = exec.replaceAll("/var/lib/myclerk", state).split(/\s+/);
      const env: Record<string, string> = { PATH: "/usr/bin:/bin", HOME: state };
      for (const e of get("Environment").join(" ").split(/\s+/)) {
        const [k, v] = e.split("=");
        env[k] = v;
      }
      // the service user cannot write the cache (ProtectSystem=strict would make it read-only)
      assert((await Deno.stat(`${prefix}/deno-dir`)).uid !== NOBODY, "cache owned by root");
      const child = new Deno.Command("setpriv", {
        args: [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          "--clear-groups",
          "--no-new-privs",
          "--inh-caps=-all",
          "--bounding-set=-all",
          ...argv,
        ],
        env,
        clearEnv: true,
        cwd: state,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const logs: string[] = [];
      const pump = (async () => {
        const dec = new TextDecoder();
        for await (const c of child.stderr) logs.push(...dec.decode(c).split("\n"));
      })();
      const outPump = child.stdout.pipeTo(new WritableStream());
      try {
        await until(() => logs.some((l) => l.includes('"node ready"')), 30_000, "node ready")
          .catch((e) => {
            throw new Error(`${e.message}; log:\n${logs.join("\n")}`);
          });
        assert(logs.some((l) => /"relay started"/.test(l)), "relay role");
        const pong = await cliOk(["ping", `127.0.0.1:${tcp}`, "-n", "2"]);
        assert(/keepalive 2: rtt/.test(pong), pong);
        const h = await (await fetch(`http://127.0.0.1:${http}/healthz`)).json();
        assertEquals(h.role, "relay");
        const files = [...Deno.readDirSync(state)].map((e) => e.name);
        assert(files.includes("node.key") && files.includes("federation.db"), files.join(","));
        assertEquals((await Deno.stat(`${state}/node.key`)).uid, NOBODY);
        assertEquals((await Deno.stat(`${state}/node.key`)).mode! & 0o777, 0o600);
        // ExecReload: SIGHUP must not stop the relay
        child.kill("SIGHUP");
        await new Promise((r) => setTimeout(r, 500));
        const again = await fetch(`http://127.0.0.1:${http}/healthz`);
        assertEquals(again.status, 200, "alive after SIGHUP");
        await again.body?.cancel();
        child.kill("SIGTERM");
        const st = await child.status;
        assertEquals(st.code, 0, `exit after SIGTERM:\n${logs.join("\n")}`);
        assert(logs.some((l) => l.includes('"relay stopping"')), "graceful stop");
        assert(!logs.some((l) => /Download|npm/i.test(l) && !/"msg"/.test(l)), "no downloads");
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
        await pump;
        await outPump.catch(() => {});
      }
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
