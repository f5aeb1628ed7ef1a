/**
 * The escape attempts of an FFI plugin, shared by the host suite
 * (tests/hardware/confine_test.ts, this machine's kernel) and the VM suite
 * (tests/hwvm/confine_vm_test.ts, Debian 6.1): a real process plugin granted
 * libc tries, through libc itself (which Deno's permissions cannot stop),
 * to read /etc/shadow, open an ungranted device node, write outside its
 * grant, create a TCP socket, connect to a local port, and unshare; it must
 * get EACCES/EPERM from the kernel, while what it was granted still works.
 *
 * @module
 */
import { confineSupport, denoDir } from "../../hardware/confine/mod.ts";
import { resolveLibrary } from "../../plugins/policy.ts";
import type { PluginHost } from "../../plugins/runtime/host.ts";
import { PluginHost as Host } from "../../plugins/runtime/host.ts";
import {
  assert,
  assertEq,
  dropWorld,
  makeWorld,
  writePlugin,
  writePolicy,
} from "../plugins/_helpers.ts";

const EACCES = 13;
const EPERM = 1;

/** The escaping plugin: every opcode answers `{ r }` = the C result or -errno. */
const SOURCE = `
import { definePlugin } from "@myclerk/plugin-sdk";
import { Libc, SYS, alloc } from "@myclerk/hardware/libc.ts";
let libc;
function sockaddrIn(port) {
  const b = alloc(16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 2, true);
  dv.setUint16(2, port, false);
  b.set([127, 0, 0, 1], 4);
  return b;
}
export default definePlugin({
  init(ctx) { libc = new Libc(ctx.grant.ffi.libc); },
  handlers: {
    // open(path, flags): fd or -errno (closed again).
    [0xF100]: (p) => {
      const fd = libc.sysOpen(p.path, p.flags ?? SYS.O_RDONLY, 0o600);
      if (fd >= 0) libc.close(fd);
      return { r: fd };
    },
    // socket(AF_INET, SOCK_STREAM) then connect(127.0.0.1:port).
    [0xF101]: (p) => {
      const fd = libc.sysSocket(SYS.AF_INET, SYS.SOCK_STREAM, 0);
      if (fd < 0) return { stage: "socket", r: fd };
      const r = libc.sysConnect(fd, sockaddrIn(p.port));
      libc.close(fd);
      return { stage: "connect", r };
    },
    // unshare(CLONE_NEWUSER).
    [0xF102]: () => ({ r: libc.sysSyscall(272, 0x10000000n) }),
  },
});
`;

/** Runs the escape checks on this kernel; `where` names it in messages. */
export async function escapeChecks(where: string): Promise<void> {
  const libcPath = resolveLibrary("libc");
  assert(libcPath !== undefined, "libc");
  const abi = confineSupport(libcPath).abi;
  assert(abi > 0, `${where}: kernel has no Landlock (abi 0)`);
  const w = await makeWorld();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const c of listener) c.close();
  })();
  const accepting2 = (async () => {
    for await (const c of other) c.close();
  })();
  const portA = (listener.addr as Deno.NetAddr).port;
  const portB = (other.addr as Deno.NetAddr).port;
  let host: PluginHost | undefined;
  try {
    const manifest = (name: string, net: string[]) => ({
      name,
      version: "1.0.0",
      hostApi: "^1",
      isolation: "process",
      ranges: [{ first: "0xF100", last: "0xF10F" }],
      permissions: { ffi: ["libc"], read: ["/dev/null"], write: ["/dev/null"], net },
    });
    await writePlugin(w, manifest("escape", []), SOURCE);
    await writePlugin(
      w,
      {
        ...manifest("escape-net", [`127.0.0.1:${portA}`]),
        ranges: [{ first: "0xF110", last: "0xF11F" }],
      },
      SOURCE.replaceAll("0xF10", "0xF11"),
    );
    const entry = { ffi: ["libc"], read: ["/dev/null"], write: ["/dev/null"] };
    await writePolicy(w, {
      plugins: {
        escape: entry,
        "escape-net": { ...entry, net: [`127.0.0.1:${portA}`] },
      },
    });
    host = await Host.start({
      pluginsDir: w.pluginsDir,
      policyFile: w.policyFile,
      dataDir: w.dataDir,
      busRoot: `${w.root}/no-buses`,
      startTimeoutMs: 90_000,
    });
    const h = host;
    for (const n of ["escape", "escape-net"]) {
      const st = h.list().find((s) => s.name === n)!;
      assertEq(
        st.state,
        "running",
        `${where}: ${n} running (${st.reason}) ${h.logs(n, 20).join("\n")}`,
      );
    }
    const call = async (op: number, payload: unknown) => {
      const r = await h.dispatch({
        opcode: op,
        tier: 3,
        payload,
        peer: { sessionId: 1, keyId: 1, tier: 3, remote: "x" },
      });
      if (!r.ok) throw new Error(`0x${op.toString(16)}: ${r.error.detail}`);
      return r.payload as { r: number; stage?: string };
    };

    // plugin list names the confinement, with the kernel's ABI.
    const row = h.list().find((s) => s.name === "escape")!;
    const seccomp = Deno.build.arch === "x86_64" ? ", seccomp (inet sockets denied)" : "";
    const net = abi >= 4 ? "net denied" : "no landlock net rules (abi < 4)";
    const ioctl = abi < 5 ? ", device ioctls unrestricted (abi < 5)" : "";
    assertEq(row.confinement, `landlock abi ${abi}, ${net}${seccomp}${ioctl}`, `${where}: label`);

    // Filesystem: /etc/shadow, an ungranted device, a write outside the grant: EACCES.
    assertEq((await call(0xf100, { path: "/etc/shadow" })).r, -EACCES, `${where}: /etc/shadow`);
    assertEq((await call(0xf100, { path: "/etc/hostname" })).r, -EACCES, `${where}: /etc/hostname`);
    assertEq((await call(0xf100, { path: "/dev/zero" })).r, -EACCES, `${where}: /dev/zero`);
    assertEq(
      (await call(0xf100, { path: `${w.root}/x`, flags: 0o101 /* O_WRONLY|O_CREAT */ })).r,
      -EACCES,
      `${where}: create outside the grant`,
    );
    // The node's Deno cache: nothing can be planted there (its transpiled modules, or the
    // npm packages the plugin's own cache links to); its own cache takes writes.
    const nodeCache = await Deno.realPath(denoDir(Deno.env.toObject()));
    const ownCache = `${w.dataDir}/.plugin-run/deno-cache/escape`;
    const create = 0o101; // O_WRONLY|O_CREAT
    for (const path of [`${nodeCache}/gen/planted-${Deno.pid}.js`, `${ownCache}/npm/planted`]) {
      const r = (await call(0xf100, { path, flags: create })).r;
      if (r >= 0) await Deno.remove(path).catch(() => {}); // a failing run leaves nothing behind
      assertEq(r, -EACCES, `${where}: ${path}`);
    }
    assert(
      (await call(0xf100, { path: `${ownCache}/planted`, flags: create })).r >= 0,
      `${where}: its own cache`,
    );
    // What it was granted still works (the test can fail both ways).
    assert((await call(0xf100, { path: "/dev/null", flags: 2 })).r >= 0, `${where}: /dev/null`);
    assert(
      (await call(0xf100, { path: `${w.pluginsDir}/escape/plugin.json` })).r >= 0,
      `${where}: own files`,
    );
    // The test itself (unconfined) can read what the plugin cannot.
    await Deno.readTextFile("/etc/hostname").catch(() => "");

    // Network without a grant: the socket call is refused (seccomp, EACCES).
    const s = await call(0xf101, { port: portA });
    if (Deno.build.arch === "x86_64") {
      assertEq([s.stage, s.r], ["socket", -EACCES], `${where}: inet socket without a net grant`);
    } else {
      assertEq(s.r, abi >= 4 ? -EACCES : 0, `${where}: connect without a net grant`);
    }
    // unshare: EPERM (seccomp).
    if (Deno.build.arch === "x86_64") {
      assertEq((await call(0xf102, {})).r, -EPERM, `${where}: unshare`);
    }

    // With net 127.0.0.1:portA: that port connects; another port is refused by Landlock (ABI >= 4).
    const a = await call(0xf111, { port: portA });
    assertEq([a.stage, a.r], ["connect", 0], `${where}: granted port`);
    const b = await call(0xf111, { port: portB });
    if (abi >= 4) assertEq([b.stage, b.r], ["connect", -EACCES], `${where}: other port`);
    else assertEq([b.stage, b.r], ["connect", 0], `${where}: no Landlock net rules below ABI 4`);
    const rowNet = h.list().find((x) => x.name === "escape-net")!;
    assert(
      abi >= 4 ? rowNet.confinement.includes(`net connect ${portA} only`) : true,
      `${where}: net label ${rowNet.confinement}`,
    );

    // Stopping removes the plugins' caches, links and all, never what a link points at.
    await host.close();
    host = undefined;
    const gone = await Deno.lstat(ownCache).then(() => false, () => true);
    assert(gone, `${where}: own cache removed at stop`);
    const msgpack = `${nodeCache}/npm/registry.npmjs.org/@msgpack/msgpack`; // what the SDK loads
    const intact = await Deno.stat(msgpack).then((st) => st.isDirectory, () => false);
    assert(intact, `${where}: the node's npm cache is intact (${msgpack})`);
  } finally {
    await host?.close();
    listener.close();
    other.close();
    await accepting.catch(() => {});
    await accepting2.catch(() => {});
    await dropWorld(w);
  }
}
