/**
 * myclerk-relay: the one command line. `serve` starts a node; the other
 * subcommands are the operator's tools.
 *
 * @example deno run -A main.ts serve
 * @module
 */
import { Command } from "commander";
import { VERSION } from "./core/version.ts";
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
    .version(VERSION, "-V, --version", "print the version")
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
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
