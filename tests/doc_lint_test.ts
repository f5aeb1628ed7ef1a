/**
 * `deno doc --lint` stays clean for the public modules of core/, federation/,
 * plugins/ and hardware/: every export and member documented, explicit types, no public
 * type referring to a private one. Runs the real `deno doc --lint` (same
 * binary as the test runner) over a fixed file list, from the repo root so
 * the import map resolves `hono`, `zod`, ...
 *
 * Not listed: plugins/examples/ (sample code, not an API). References to
 * npm types (Hono and its Env, commander's Command, zod's inferred config type) carry a
 * `// deno-doc-ignore ...` line with the reason.
 */
import { assert } from "./core/_assert.ts";

const ROOT = new URL("..", import.meta.url);

/** Exactly the modules that were made clean; add new public modules here. */
const FILES: readonly string[] = [
  "core/cli/inspect.ts",
  "core/cli/mod.ts",
  "core/crypto/crc16.ts",
  "core/crypto/ct.ts",
  "core/crypto/libcrypto.ts",
  "core/crypto/mod.ts",
  "core/crypto/noble.ts",
  "core/crypto/node.ts",
  "core/crypto/types.ts",
  "core/crypto/validate.ts",
  "core/errors.ts",
  "core/slab.ts",
  "core/bytes.ts",
  "core/node/acl.ts",
  "core/node/client.ts",
  "core/node/config.ts",
  "core/node/connection.ts",
  "core/node/datadir.ts",
  "core/node/dispatch.ts",
  "core/node/gate.ts",
  "core/node/keys.ts",
  "core/node/log.ts",
  "core/node/metrics.ts",
  "core/node/node.ts",
  "core/opcodes.ts",
  "core/session/handshake.ts",
  "core/session/payloads.ts",
  "core/session/replay.ts",
  "core/session/schedule.ts",
  "core/session/session.ts",
  "core/session/ticket.ts",
  "core/transport/conn.ts",
  "core/transport/tcp.ts",
  "core/transport/ws.ts",
  "core/version.ts",
  "core/wire/compress.ts",
  "core/wire/fragment.ts",
  "core/wire/frame.ts",
  "core/wire/header.ts",
  "core/wire/message.ts",
  "core/wire/payload.ts",
  "core/wire/protect.ts",
  "federation/backoff.ts",
  "federation/bytes.ts",
  "federation/cli.ts",
  "federation/codec.ts",
  "federation/directory.ts",
  "federation/envelope.ts",
  "federation/family.ts",
  "federation/files.ts",
  "federation/hpke.ts",
  "federation/hub.ts",
  "federation/hubstore.ts",
  "federation/invite.ts",
  "federation/link.ts",
  "federation/manifest.ts",
  "federation/messages.ts",
  "federation/ops.ts",
  "federation/ratelimit.ts",
  "federation/relay.ts",
  "federation/service.ts",
  "federation/store.ts",
  "federation/storeopen.ts",
  "hardware/bus.ts",
  "hardware/can.ts",
  "hardware/confine/apply.ts",
  "hardware/confine/launcher.ts",
  "hardware/confine/mod.ts",
  "hardware/confine/plan.ts",
  "hardware/detect.ts",
  "hardware/holds.ts",
  "hardware/i2c.ts",
  "hardware/libc.ts",
  "hardware/spi.ts",
  "hardware/termios.ts",
  "plugins/cli.ts",
  "plugins/http.ts",
  "plugins/manifest.ts",
  "plugins/mod.ts",
  "plugins/policy.ts",
  "plugins/ranges.ts",
  "plugins/runtime/frames.ts",
  "plugins/runtime/host.ts",
  "plugins/runtime/instance.ts",
  "plugins/runtime/metrics.ts",
  "plugins/runtime/output.ts",
  "plugins/runtime/plugin_side.ts",
  "plugins/runtime/protocol.ts",
  "plugins/runtime/runner.ts",
  "plugins/runtime/validate.ts",
  "plugins/sdk/mod.ts",
  "plugins/can/mod.ts",
  "plugins/i2c/mod.ts",
  "plugins/spi/mod.ts",
  "plugins/serial/mod.ts",
  "plugins/serial/termios.ts",
  "plugins/service.ts",
  "plugins/gsm/at/codes.ts",
  "plugins/gsm/at/engine.ts",
  "plugins/gsm/at/parse.ts",
  "plugins/gsm/dialects.ts",
  "plugins/gsm/gnss.ts",
  "plugins/gsm/mod.ts",
  "plugins/gsm/modem.ts",
  "plugins/gsm/pdu.ts",
  "plugins/gsm/port.ts",
  "plugins/gsm/sms.ts",
  "plugins/gsm/ussd.ts",
  "plugins/gsm/voice.ts",
];

Deno.test("doc lint: core, federation, plugins and hardware public modules pass deno doc --lint", async () => {
  const root = ROOT.pathname;
  for (const f of FILES) {
    // A renamed or deleted module must fail here with its name, not inside deno doc.
    const st = await Deno.stat(`${root}${f}`).catch(() => undefined);
    assert(st?.isFile === true, `listed module is missing: ${f}`);
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...FILES],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.code === 0, `deno doc --lint failed (exit ${out.code}):\n${text}`);
});
