/**
 * The SDK owns its API: the module graph of each SDK entry (as `deno info
 * --json` resolves it, type-only imports included) holds only files under
 * plugins/sdk/, and the runtime takes the SDK's types from the SDK.
 */
import { assert, assertEquals } from "../core/_assert.ts";

const ROOT = new URL("../../", import.meta.url);
const SDK_DIR = new URL("plugins/sdk/", ROOT).href;

interface InfoModule {
  readonly specifier: string;
  readonly error?: string;
}

/** The specifiers of every module in the graph of `entry` (relative to the repository). */
async function graphOf(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, ROOT).pathname],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: readonly InfoModule[];
  };
  for (const m of info.modules) assert(m.error === undefined, `${m.specifier}: ${m.error}`);
  return info.modules.map((m) => m.specifier);
}

for (const entry of ["plugins/sdk/mod.ts", "plugins/sdk/testing.ts"]) {
  Deno.test(`sdk graph: ${entry} reaches nothing outside plugins/sdk/`, async () => {
    const mods = await graphOf(entry);
    assert(mods.includes(new URL(entry, ROOT).href), "the entry itself is in its graph");
    assert(mods.includes(`${SDK_DIR}types.ts`), "the SDK's own types module is in the graph");
    const outside = mods.filter((s) => !s.startsWith(SDK_DIR));
    assertEquals(outside, [], "modules outside plugins/sdk/ (runtime, core, federation, npm)");
    for (const bad of ["plugins/runtime/", "core/", "federation/", "hardware/"]) {
      assert(!mods.some((s) => s.startsWith(new URL(bad, ROOT).href)), `graph reaches ${bad}`);
    }
  });
}

Deno.test("sdk graph: the runtime takes GrantInfo/PeerInfo from the SDK, not its own copy", async () => {
  const mods = await graphOf("plugins/runtime/protocol.ts");
  assert(mods.includes(`${SDK_DIR}types.ts`), "protocol.ts imports plugins/sdk/types.ts");
  for (const f of ["protocol.ts", "host.ts", "runner.ts", "calls.ts"]) {
    const text = await Deno.readTextFile(new URL(`plugins/runtime/${f}`, ROOT));
    assert(
      !/interface (GrantInfo|PeerInfo)\b/.test(text),
      `${f} declares its own GrantInfo/PeerInfo`,
    );
    assert(
      !/(GrantInfo|PeerInfo)[^;]*from "\.\/protocol\.ts"/.test(text),
      `${f} takes GrantInfo/PeerInfo through protocol.ts instead of the SDK`,
    );
  }
});
