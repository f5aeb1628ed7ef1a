/**
 * The OCI image of deploy/build-image.sh, built offline with buildah from
 * scratch out of a copy of this repository salted with things that must never
 * enter an image (.git, data dirs, keys, stores, tokens): the image must hold
 * none of them, run as a non-root user, carry a HEALTHCHECK, and, started with
 * podman (ports published on loopback only), be a relay that `ping` reaches,
 * whose health check passes, whose status page refuses a non-local caller,
 * and that stops gracefully.
 *
 * Then deploy/compose.yaml on that image (podman-compose up, ping, down).
 * Also deploy/compose.yaml statically: one service, a relay, no NATS, HTTP
 * published on 127.0.0.1 only.
 */

import { parse as parseYaml } from "npm:yaml@2.9.1";
import { assert, assertEquals } from "../federation/_assert.ts";
import { requireBinary } from "../_support/real.ts";
import { cliOk, freePort, until } from "../federation/integration/_harness.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  const strip = (s: string) =>
    s.split("\n").filter((l) => !/level=(warning|error) msg="(Removing timer|HEALTHCHECK)/.test(l))
      .join("\n");
  return { code: o.code, out: dec.decode(o.stdout), err: strip(dec.decode(o.stderr)) };
}

const VFS = ["--storage-driver", "vfs"];

Deno.test({
  name: "deploy: image built offline from scratch, nothing secret inside, runs as a relay",
  ...requireBinary("buildah", "podman", "podman-compose", "git"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "myclerk-image-" });
    const tag = `localhost/myclerk-relay:test-${Deno.pid}`;
    const name = `myclerk-test-${Deno.pid}`;
    const volume = `myclerk-test-${Deno.pid}`;
    const podmanArgs: string[] = [...VFS];
    const project = `myclerktest${Deno.pid}`;
    let composeDown: (() => Promise<unknown>) | undefined;
    try {
      // a copy of the tree (tracked + new files), salted with what must stay out
      const src = `${tmp}/src`;
      const ls = await run("git", ["-C", REPO, "ls-files", "-co", "--exclude-standard", "-z"]);
      for (const f of ls.out.split("\0").filter(Boolean)) {
        try {
          const st = await Deno.stat(`${REPO}/${f}`);
          if (!st.isFile) continue;
        } catch {
          continue; // deleted in the work tree
        }
        await Deno.mkdir(`${src}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
        await Deno.copyFile(`${REPO}/${f}`, `${src}/${f}`);
      }
      // The frame shim is a build product (git-ignored): a tree that has it built ships it
      // (OPERATOR.md), so the copy carries it too, written after frame.c (the loader refuses
      // a shim older than its source).
      const SHIM = "core/crypto/native/libmyclerk_frame.so";
      const withShim = await Deno.stat(`${REPO}/${SHIM}`).then((s) => s.isFile, () => false);
      if (withShim) await Deno.copyFile(`${REPO}/${SHIM}`, `${src}/${SHIM}`);
      const salt = [
        ".git/config",
        "data/node.key",
        "relay/federation.db",
        "alice/family.key",
        "plugins/examples/leak.key",
        "somewhere/status.token",
        "somewhere/hub.db-wal",
      ];
      for (const f of salt) {
        await Deno.mkdir(`${src}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
        await Deno.writeTextFile(`${src}/${f}`, "SECRET-MUST-NOT-SHIP\n");
      }

      const b = await run(`${src}/deploy/build-image.sh`, [
        "--tag",
        tag,
        "--deno",
        Deno.execPath(),
      ]);
      assertEquals(b.code, 0, `build-image.sh:\n${b.out}\n${b.err}`);

      const insp = JSON.parse(
        (await run("buildah", [...VFS, "inspect", "--type", "image", tag])).out,
      );
      const cfg = insp.Docker.config;
      assertEquals(cfg.User, "10001:10001");
      assert(
        cfg.Healthcheck?.Test?.join(" ").includes("/opt/myclerk/healthcheck.ts"),
        "HEALTHCHECK",
      );
      assertEquals(cfg.Cmd, ["serve", "--role", "relay", "--config", "/etc/myclerk/relay.json"]);
      assert(cfg.Entrypoint.includes("--cached-only"), "no downloads at start");

      // walk the image's file system
      const ctr = (await run("buildah", [...VFS, "from", tag])).out.trim();
      try {
        const mnt = (await run("buildah", [...VFS, "mount", ctr])).out.trim();
        const found: string[] = [];
        const bad: string[] = [];
        const walk = async (d: string) => {
          for await (const e of Deno.readDir(d)) {
            const p = `${d}/${e.name}`;
            const rel = p.slice(mnt.length);
            if (e.isDirectory) {
              if (/^\/opt\/myclerk\/app\/(\.git|data|relay|alice|tests|bench)$/.test(rel)) {
                bad.push(rel);
              }
              if (!rel.startsWith("/opt/myclerk/deno-dir")) await walk(p);
            } else {
              found.push(rel);
              if (/\.(key|db|db-wal)$|status\.token$/.test(rel)) bad.push(rel);
              else if (e.isFile && rel.startsWith("/opt/myclerk/app")) {
                const t = await Deno.readTextFile(p).catch(() => "");
                if (t.includes("SECRET-MUST-NOT-SHIP")) bad.push(rel);
              }
            }
          }
        };
        await walk(mnt);
        assertEquals(bad, [], "secrets or dev state in the image");
        for (
          const f of [
            "/opt/myclerk/bin/deno",
            "/opt/myclerk/app/main.ts",
            "/opt/myclerk/healthcheck.ts",
            "/etc/myclerk/relay.json",
            "/lib/x86_64-linux-gnu/libcrypto.so.3",
          ]
        ) assert(found.includes(f), `missing ${f}`);
        const npm = [...Deno.readDirSync(`${mnt}/opt/myclerk/deno-dir/npm/registry.npmjs.org`)]
          .map((e) => e.name);
        assert(npm.includes("hono") && npm.includes("zod"), `module cache: ${npm}`);
        const data = await Deno.stat(`${mnt}/var/lib/myclerk`);
        assertEquals([data.uid, data.mode! & 0o777], [10001, 0o700]);
      } finally {
        await run("buildah", [...VFS, "rm", ctr]);
      }

      // run it: try the default runtime, then what this kind of host needs
      const tcp = freePort(), http = freePort();
      const hard = (await run("sh", ["-c", "ulimit -Hn"])).out.trim();
      const nofile = Math.min(65536, Number(hard) || 1024);
      const common = [
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "slirp4netns",
        "-p",
        `127.0.0.1:${tcp}:5657`,
        "-p",
        `127.0.0.1:${http}:8080`,
        "-v",
        `${volume}:/var/lib/myclerk`,
        // podman's default limits exceed what an unprivileged host (no CAP_SYS_RESOURCE) may set
        "--ulimit",
        `nofile=${nofile}:${nofile}`,
        "--ulimit",
        "nproc=4096:4096",
        tag,
      ];
      let started = await run("podman", [...podmanArgs, ...common]);
      if (started.code !== 0) {
        // crun refuses hybrid cgroup hierarchies (cgroup v1 controllers + a v2 mount)
        console.log(`podman (default runtime) failed: ${started.err.trim()}; retrying with runc`);
        await run("podman", [...podmanArgs, "rm", "-f", name]);
        podmanArgs.push("--runtime", "runc", "--cgroup-manager", "cgroupfs");
        started = await run("podman", [...podmanArgs, ...common]);
      }
      assertEquals(started.code, 0, `podman run: ${started.err}`);
      const logs = async () => (await run("podman", [...podmanArgs, "logs", name])).err;
      await until(
        async () => /"node ready"/.test(await logs()),
        30_000,
        "container node ready",
      ).catch(async (e) => {
        throw new Error(`${e.message}\n${await logs()}`);
      });
      assert(/"relay started"/.test(await logs()), "a relay");
      assert(/"crypto":"libcrypto"/.test(await logs()), "libcrypto backend inside the image");
      if (withShim) {
        // one FFI call per message inside the image too, not the per-call fallback
        assert(
          /"frameShim":"loaded"/.test(await logs()),
          `frame shim in the image: ${await logs()}`,
        );
      }
      const pong = await cliOk(["ping", `127.0.0.1:${tcp}`, "-n", "2"]);
      assert(/keepalive 2: rtt/.test(pong), pong);
      const h = await (await fetch(`http://127.0.0.1:${http}/healthz`)).json();
      assertEquals([h.status, h.role], ["ok", "relay"]);
      const hc = await run("podman", [...podmanArgs, "healthcheck", "run", name]);
      if (hc.code !== 0) {
        // Say why: the check's own output and time, and what podman recorded of it.
        const t0 = performance.now();
        const direct = await run("podman", [
          ...podmanArgs,
          "exec",
          name,
          "/opt/myclerk/bin/deno",
          "run",
          "--cached-only",
          "--no-prompt",
          "--allow-net=127.0.0.1:8080",
          "--allow-env=MYCLERK_HEALTH_URL",
          "/opt/myclerk/healthcheck.ts",
        ]);
        const ms = Math.round(performance.now() - t0);
        const health = await run("podman", [
          ...podmanArgs,
          "inspect",
          name,
          "--format",
          "{{json .State.Health}}",
        ]);
        throw new Error(
          `healthcheck: ${hc.out}${hc.err}
` +
            `the check run by hand: exit ${direct.code} in ${ms} ms: ${direct.out}${direct.err}
` +
            `podman's record: ${health.out}${health.err}`,
        );
      }
      // through the port map the caller is not loopback inside the container
      const page = await fetch(`http://127.0.0.1:${http}/`);
      await page.body?.cancel();
      assertEquals(page.status, 401, "status page open to a non-local caller");
      const stop = await run("podman", [...podmanArgs, "stop", "-t", "15", name]);
      assertEquals(stop.code, 0, stop.err);
      const code =
        (await run("podman", [...podmanArgs, "inspect", name, "--format", "{{.State.ExitCode}}"]))
          .out.trim();
      assertEquals(code, "0", "graceful exit on SIGTERM");
      assert(/"relay stopping"/.test(await logs()), "FED_RESTART path on stop");

      // deploy/compose.yaml itself, on this image, with free loopback ports (podman-compose)
      const compose = (await Deno.readTextFile(`${REPO}/deploy/compose.yaml`))
        .replace('"5657:5657"', `"127.0.0.1:${tcp}:5657"`)
        .replace('"127.0.0.1:8080:8080"', `"127.0.0.1:${http}:8080"`)
        .replace("localhost/myclerk-relay:0.1.0", tag);
      await Deno.writeTextFile(`${tmp}/compose.yaml`, compose);
      // podman-compose passes no runtime flags: the same fallback goes through containers.conf
      const conf = `${tmp}/containers.conf`;
      const engine = podmanArgs.includes("runc")
        ? '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
        : "";
      await Deno.writeTextFile(
        conf,
        `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]\n${engine}`,
      );
      const storage = `${tmp}/storage.conf`;
      await Deno.writeTextFile(
        storage,
        '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n',
      );
      const pc = (args: string[]) =>
        run("podman-compose", ["-p", project, "-f", `${tmp}/compose.yaml`, ...args], {
          CONTAINERS_CONF: conf,
          CONTAINERS_STORAGE_CONF: storage,
        });
      composeDown = () => pc(["down", "-v"]);
      const up = await pc(["up", "-d"]);
      assertEquals(up.code, 0, `podman-compose up: ${up.out}${up.err}`);
      await until(
        async () => {
          try {
            const r = await fetch(`http://127.0.0.1:${http}/healthz`);
            return r.status === 200 && (await r.json()).role === "relay";
          } catch {
            return false;
          }
        },
        30_000,
        "compose relay healthy",
      );
      const pong2 = await cliOk(["ping", `127.0.0.1:${tcp}`, "-n", "1"]);
      assert(/keepalive 1: rtt/.test(pong2), pong2);
      const down = await pc(["down", "-v"]);
      assertEquals(down.code, 0, down.err);
      composeDown = undefined;
      console.log(
        `image ${tag}: built offline, ran with ${
          podmanArgs.includes("runc") ? "runc" : "default"
        } runtime; compose up, ping, down`,
      );
    } finally {
      await composeDown?.();
      // podman-compose 1.0 leaves its network behind
      await run("podman", [...VFS, "network", "rm", "-f", `${project}_default`]);
      await run("podman", [...podmanArgs, "rm", "-f", name]);
      await run("podman", [...podmanArgs, "volume", "rm", "-f", volume]);
      await run("buildah", [...VFS, "rmi", "-f", tag]);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("deploy: compose.yaml runs a relay from the image, no NATS, HTTP on loopback", async () => {
  const doc = parseYaml(await Deno.readTextFile(`${REPO}/deploy/compose.yaml`)) as {
    services: Record<string, Record<string, unknown>>;
  };
  assertEquals(Object.keys(doc.services), ["relay"]);
  const r = doc.services.relay;
  assertEquals(r.image, "localhost/myclerk-relay:0.1.0");
  const build = await Deno.readTextFile(`${REPO}/deploy/build-image.sh`);
  assert(build.includes("TAG=localhost/myclerk-relay:0.1.0"), "compose uses build-image's tag");
  const cmd = r.command as string[];
  assertEquals(cmd.slice(0, 3), ["serve", "--role", "relay"]);
  const ports = r.ports as string[];
  assert(ports.includes("127.0.0.1:8080:8080"), `ports ${ports}`);
  assert(ports.every((p) => !/(^|:)8080:/.test(p) || p.startsWith("127.0.0.1:")), "8080 loopback");
  assert(!JSON.stringify(doc).toLowerCase().includes("nats"), "no NATS");
});
