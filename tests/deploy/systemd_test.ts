/**
 * deploy/myclerk.service under a real systemd: a Debian 12 root (debootstrap
 * minbase + systemd + procps, cached in /var/tmp) booted with systemd-nspawn
 * on a private network namespace (loopback only), with deploy/install.sh's
 * /opt/myclerk and the example /etc/myclerk/relay.json. A probe unit inside
 * checks: the relay runs as a dynamic user with no capabilities, no_new_privs
 * and a seccomp filter (every hardening directive of the unit in force),
 * `ping` reaches it, `systemctl reload` (SIGHUP) keeps the same process and
 * logs "config reloaded", a SIGKILL is followed by a restart, and `systemctl
 * stop` ends it cleanly (exit 0).
 *
 * Needs root, systemd-nspawn (systemd-container) and, the first time,
 * debootstrap with access to a Debian mirror.
 */

import { assert, assertEquals } from "../federation/_assert.ts";
import { REQUIRE_REAL, requireBinary } from "../_support/real.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const ROOT = Deno.env.get("MYCLERK_NSPAWN_ROOT") ?? "/var/tmp/myclerk-nspawn-root-v1";
const MIRROR = Deno.env.get("MYCLERK_DEBIAN_MIRROR") ?? "http://deb.debian.org/debian";

async function run(cmd: string, args: string[], timeoutMs = 600_000) {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  const t = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, timeoutMs);
  const o = await child.output();
  clearTimeout(t);
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

function gate(): { ignore: boolean } {
  if (Deno.uid() !== 0) {
    const why = "needs root (systemd-nspawn boots a container)";
    if (REQUIRE_REAL) throw new Error(`real-server suite cannot run: ${why}`);
    console.error(`[skip] ${why}`);
    return { ignore: true };
  }
  return requireBinary("systemd-nspawn", "debootstrap");
}

const PROBE = `#!/bin/bash
# runs inside the container once multi-user is up; results as KEY=VALUE in /result/out.txt
out=/result/out.txt; : > $out
r() { echo "$1=$2" >> $out; }
for i in $(seq 1 120); do systemctl is-active -q myclerk && break; sleep 0.5; done
for i in $(seq 1 120); do journalctl -b -u myclerk -o cat | grep -q '"node ready"' && break; sleep 0.5; done
pid=$(systemctl show myclerk -p MainPID --value)
r active "$(systemctl is-active myclerk)"
r pid "$pid"
r uid "$(awk '/^Uid:/{print $2}' /proc/$pid/status)"
r capeff "$(awk '/^CapEff:/{print $2}' /proc/$pid/status)"
r nonewprivs "$(awk '/^NoNewPrivs:/{print $2}' /proc/$pid/status)"
r seccomp "$(awk '/^Seccomp:/{print $2}' /proc/$pid/status)"
r keymode "$(stat -c %a /var/lib/private/myclerk/node.key)"
r keyowner "$(stat -c %u /var/lib/private/myclerk/node.key)"
DENO_DIR=/opt/myclerk/deno-dir /opt/myclerk/bin/deno run --cached-only -A /opt/myclerk/app/main.ts ping 127.0.0.1:5657 -n 2 > /result/ping.txt 2>&1
r ping "$?"
systemctl reload myclerk; r reload "$?"
for i in $(seq 1 20); do journalctl -b -u myclerk -o cat | grep -q '"config reloaded"' && break; sleep 0.5; done
r reloaded "$(journalctl -b -u myclerk -o cat | grep -c '"config reloaded"')"
r pid_after_reload "$(systemctl show myclerk -p MainPID --value)"
kill -9 "$pid"
for i in $(seq 1 40); do
  n=$(systemctl show myclerk -p NRestarts --value); p=$(systemctl show myclerk -p MainPID --value)
  [ "$n" = 1 ] && [ "$p" != 0 ] && [ "$p" != "$pid" ] && break; sleep 0.5
done
r restarts "$(systemctl show myclerk -p NRestarts --value)"
r pid_after_kill "$(systemctl show myclerk -p MainPID --value)"
np=$(systemctl show myclerk -p MainPID --value)
for i in $(seq 1 120); do journalctl -b _PID=$np -o cat | grep -q '"node ready"' && break; sleep 0.5; done
r ready_after_kill "$(journalctl -b _PID=$np -o cat | grep -c '"node ready"')"
systemctl stop myclerk
r stopped "$(systemctl show myclerk -p ActiveState --value)"
r result "$(systemctl show myclerk -p Result --value)"
r exitstatus "$(systemctl show myclerk -p ExecMainStatus --value)"
journalctl -b -u myclerk --no-pager > /result/journal.txt 2>&1
r done 1
systemctl poweroff
`;

Deno.test({
  name: "deploy: myclerk.service under systemd (nspawn): hardened, ping, reload, restart, stop",
  ...gate(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const stamp = `${ROOT}/.myclerk-root-ok`;
    try {
      await Deno.stat(stamp);
    } catch {
      console.log(`debootstrap of a Debian 12 root into ${ROOT} (first run only)`);
      await Deno.remove(ROOT, { recursive: true }).catch(() => {});
      const d = await run("debootstrap", [
        "--variant=minbase",
        "--include=systemd,systemd-sysv,dbus,procps,libssl3",
        "bookworm",
        ROOT,
        MIRROR,
      ]);
      assertEquals(d.code, 0, `debootstrap: ${d.err.slice(-2000)}`);
      await Deno.writeTextFile(stamp, new Date().toISOString());
    }
    // this run's install (a previous run's state is dropped)
    for (const p of ["opt/myclerk", "etc/myclerk", "var/lib/private/myclerk", "result"]) {
      await Deno.remove(`${ROOT}/${p}`, { recursive: true }).catch(() => {});
    }
    const inst = await run(`${REPO}/deploy/install.sh`, [
      "--prefix",
      `${ROOT}/opt/myclerk`,
      "--etc",
      `${ROOT}/etc/myclerk`,
      "--no-unit",
      "--deno",
      Deno.execPath(),
    ]);
    assertEquals(inst.code, 0, inst.err);
    const sys = `${ROOT}/etc/systemd/system`;
    await Deno.copyFile(`${REPO}/deploy/myclerk.service`, `${sys}/myclerk.service`);
    await Deno.writeTextFile(
      `${sys}/probe.service`,
      "[Unit]\nAfter=myclerk.service\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/probe.sh\n",
    );
    await Deno.writeTextFile(`${ROOT}/usr/local/bin/probe.sh`, PROBE, { mode: 0o755 });
    const wants = `${sys}/multi-user.target.wants`;
    await Deno.mkdir(wants, { recursive: true });
    for (const u of ["myclerk.service", "probe.service"]) {
      await Deno.remove(`${wants}/${u}`).catch(() => {});
      await Deno.symlink(`/etc/systemd/system/${u}`, `${wants}/${u}`);
    }
    await Deno.mkdir(`${ROOT}/result`);

    const boot = await run("systemd-nspawn", [
      "--quiet",
      "--register=no",
      "--keep-unit",
      "--private-network",
      `--machine=myclerk-test-${Deno.pid}`,
      "-D",
      ROOT,
      `--bind=${ROOT}/result:/result`,
      "-b",
    ], 240_000);
    let out = "";
    try {
      out = await Deno.readTextFile(`${ROOT}/result/out.txt`);
    } catch { /* probe never ran */ }
    const journal = await Deno.readTextFile(`${ROOT}/result/journal.txt`).catch(() => "");
    const kv = Object.fromEntries(
      out.split("\n").filter((l) => l.includes("=")).map((l) => [
        l.slice(0, l.indexOf("=")),
        l.slice(l.indexOf("=") + 1),
      ]),
    );
    const ctx = `\nnspawn rc ${boot.code}\n${boot.err.slice(-1500)}\nprobe:\n${out}\njournal:\n${
      journal.slice(-3000)
    }`;
    assertEquals(kv.done, "1", `probe did not finish${ctx}`);
    assertEquals(kv.active, "active", ctx);
    const uid = Number(kv.uid);
    assert(uid >= 61184 && uid <= 65519, `DynamicUser uid range, got ${uid}${ctx}`);
    assertEquals(kv.capeff, "0000000000000000", ctx);
    assertEquals(kv.nonewprivs, "1", ctx);
    assertEquals(kv.seccomp, "2", ctx);
    assertEquals([kv.keymode, kv.keyowner], ["600", String(uid)], ctx);
    assertEquals(kv.ping, "0", `${await Deno.readTextFile(`${ROOT}/result/ping.txt`)}${ctx}`);
    assertEquals(kv.reload, "0", ctx);
    assert(Number(kv.reloaded) >= 1, `no "config reloaded" after SIGHUP${ctx}`);
    assertEquals(kv.pid_after_reload, kv.pid, `reload replaced the process${ctx}`);
    assertEquals(kv.restarts, "1", ctx);
    assert(kv.pid_after_kill !== kv.pid && kv.pid_after_kill !== "0", ctx);
    assertEquals(kv.ready_after_kill, "1", `restarted relay not ready${ctx}`);
    assertEquals([kv.stopped, kv.result, kv.exitstatus], ["inactive", "success", "0"], ctx);
    assert(/"relay stopping"/.test(journal), `graceful stop${ctx}`);
    console.log(
      `systemd (dynamic uid ${uid}): hardened relay ran, reloaded, restarted after SIGKILL, stopped`,
    );
  },
});
