/**
 * deploy/nginx-myclerk.conf in front of a real relay, with a self-signed CA:
 * `myclerk ping wss://localhost:PORT/myclerk` succeeds when the CA is trusted
 * (`DENO_CERT`, Deno's extra-CA variable), fails when it is not, and nothing
 * but /myclerk and /healthz is reachable through the proxy (the status page,
 * /metrics and the admin routes stay local).
 */

import { assert, assertEquals } from "../federation/_assert.ts";
import { requireBinary, which } from "../_support/real.ts";
import { Cluster, freePort, until } from "../federation/integration/_harness.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const MAIN = `${REPO}/main.ts`;

async function run(cmd: string, args: string[], env?: Record<string, string>, cwd?: string) {
  const o = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** nginx lives in /usr/sbin, which is not on every user's PATH. */
function nginxBin(): string | undefined {
  for (const p of [which("nginx"), "/usr/sbin/nginx"]) {
    try {
      if (p && Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

Deno.test({
  name: "deploy: nginx TLS proxy in front of /myclerk, ping wss:// with a self-signed CA",
  ...(nginxBin() ? requireBinary("openssl") : requireBinary("nginx", "openssl")),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const c = await Cluster.create();
    let nginx: Deno.ChildProcess | undefined;
    try {
      const relay = await c.serve("relay", ["--role", "relay"]);
      const d = `${c.dir}/tls`;
      await Deno.mkdir(`${d}/tmp`, { recursive: true });
      // a CA and a server certificate for localhost / 127.0.0.1 signed by it
      const ssl = (args: string[]) => run("openssl", args, undefined, d);
      for (
        const a of [
          ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            .concat(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA"]),
          ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            .concat(["-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost"]),
        ]
      ) assertEquals((await ssl(a)).code, 0);
      await Deno.writeTextFile(
        `${d}/ext.cnf`,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
      );
      const sign = await ssl([
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
      ]);
      assertEquals(sign.code, 0, sign.err);

      // the shipped site config, pointed at this relay, a free port and the test certificate
      const port = freePort();
      const site = (await Deno.readTextFile(`${REPO}/deploy/nginx-myclerk.conf`))
        .replace(/listen 443 ssl;/, `listen 127.0.0.1:${port} ssl;`)
        .replace(/\n\s*listen \[::\]:443 ssl;/, "")
        .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${d}/srv.pem;`)
        .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${d}/srv.key;`)
        .replaceAll("http://127.0.0.1:8080", `http://${relay.http}`);
      assert(site.includes(`http://${relay.http}`) && site.includes(`${d}/srv.pem`), site);
      await Deno.writeTextFile(`${d}/site.conf`, site);
      await Deno.writeTextFile(
        `${d}/nginx.conf`,
        `daemon off; master_process off; pid ${d}/nginx.pid; error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${d}/tmp/body; proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fcgi; uwsgi_temp_path ${d}/tmp/uwsgi; scgi_temp_path ${d}/tmp/scgi;
  include ${d}/site.conf;
}
`,
      );
      const bin = nginxBin()!;
      const t = await run(bin, ["-t", "-p", d, "-c", `${d}/nginx.conf`]);
      assertEquals(t.code, 0, `nginx -t: ${t.err}`);
      nginx = new Deno.Command(bin, {
        args: ["-p", d, "-c", `${d}/nginx.conf`],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const nginxErr = nginx.stderr.pipeTo(new WritableStream());
      void nginxErr.catch(() => {});
      await until(
        async () => {
          try {
            const conn = await Deno.connect({ hostname: "127.0.0.1", port });
            conn.close();
            return true;
          } catch {
            return false;
          }
        },
        10_000,
        "nginx listening",
      );

      const url = `wss://localhost:${port}/myclerk`;
      const ping = (env: Record<string, string>) =>
        run(Deno.execPath(), ["run", "-A", MAIN, "ping", url, "-n", "2", "--json"], env);
      const ok = await ping({ DENO_CERT: `${d}/ca.pem` });
      assertEquals(ok.code, 0, `ping through TLS: ${ok.err}`);
      const j = JSON.parse(ok.out.trim().split("\n").pop()!);
      assertEquals(j.transport, "ws");
      assertEquals(j.rttMs.length, 2);
      const keyId = ((await (await fetch(`http://${relay.http}/healthz`)).json()) as {
        keyId: string;
      }).keyId;
      assertEquals(j.peerKeyId, keyId, "the relay behind the proxy answered");

      const untrusted = await ping({});
      assert(untrusted.code !== 0, "an untrusted certificate must fail");
      // the WebSocket error event carries no reason; a plain fetch says it is the certificate
      assert(/websocket connect(ion)? failed/i.test(untrusted.err), untrusted.err);
      const why = await fetch(`https://localhost:${port}/healthz`).then(
        (r) => `HTTP ${r.status}`,
        (e) => String(e?.cause ?? e),
      );
      assert(/certificate|UnknownIssuer/i.test(why), `untrusted fetch: ${why}`);

      // only /myclerk and /healthz pass the proxy
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${d}/ca.pem`)] });
      const get = async (p: string) => {
        const r = await fetch(`https://localhost:${port}${p}`, { client });
        await r.body?.cancel();
        return r.status;
      };
      assertEquals(await get("/healthz"), 200);
      assertEquals(await get("/"), 404);
      assertEquals(await get("/status/api"), 404);
      assertEquals(await get("/metrics"), 404);
      assertEquals(await get("/federation/status"), 404);
      client.close();
    } finally {
      try {
        nginx?.kill("SIGTERM");
      } catch { /* exited */ }
      await nginx?.status;
      await c.close();
    }
  },
});
