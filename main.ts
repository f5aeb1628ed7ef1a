/**
 * myclerk-relay: the one command line. `serve` starts a node; the other
 * subcommands are the operator's tools.
 *
 * @example deno run -A main.ts serve
 * @module
 */
import { Command, CommanderError } from "commander";
import { versionLine } from "./core/cli/version.ts";
import { explainOsError } from "./core/cli/oserror.ts";
import { registerCoreCommands } from "./core/cli/mod.ts";
import { federationExtension, registerFederationCommands } from "./federation/cli.ts";
import { pluginExtension } from "./plugins/service.ts";
import { registerPluginCommands } from "./plugins/cli.ts";
import { statusExtension } from "./status/service.ts";
import { registerStatusCommands } from "./status/cli.ts";
import { registerOpsCommands } from "./ops/cli.ts";
import { registerCallCommand } from "./core/cli/call.ts";

/** Builds the command tree (exported for tests of `--help` output). */
export function buildProgram(): Command {
  const program = new Command()
    .name("myclerk")
    .description("MyClerk node: relay, hub, or both (profile mcp0, see docs/PROTOCOL.md)")
    .option("-V, --version", "print the version, the commit and the Deno version")
    .on("option:version", () => {
      console.log(versionLine());
      Deno.exit(0);
    })
    // Usage errors (a bad option value, an unknown option) throw instead of exiting 1, so
    // main can exit 2 for them (docs/OPERATOR.md "Exit codes"); inherited by every subcommand.
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");
  registerCoreCommands(program, [pluginExtension, federationExtension, statusExtension]);
  registerPluginCommands(program);
  registerFederationCommands(program);
  registerStatusCommands(program);
  registerOpsCommands(program);
  registerCallCommand(program);
  return program;
}

if (import.meta.main) {
  try {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    // commander has printed its message already; --help exits 0, usage errors 2.
    if (e instanceof CommanderError) Deno.exit(e.exitCode === 0 ? 0 : 2);
    console.error(`error: ${explainOsError(e) ?? (e instanceof Error ? e.message : String(e))}`);
    Deno.exit(1);
  }
}
