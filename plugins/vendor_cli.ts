/**
 * The vendor's `plugin` subcommands: `new` (scaffold), `keys generate|show`
 * (publisher key), `pack` (signed package), `verify`, `rollback`.
 * Registered under `plugin` by plugins/cli.ts.
 *
 * @module
 */
import type { Command } from "commander";
import { scaffoldPlugin } from "./scaffold.ts";

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds the vendor subcommands to the `plugin` command. */
export function registerVendorCommands(plugin: Command, out: (line: string) => void): void {
  plugin
    .command("new <name>")
    .description("scaffold a plugin folder (plugin.json, mod.ts, mod_test.ts, deno.json)")
    .requiredOption("--range <range>", "opcode range 0xFIRST-0xLAST, e.g. 0xF800-0xF80F")
    .option("--dir <dir>", "folder to create (default: NAME)")
    .option("--vendor-sdk", "copy the SDK into DIR/sdk instead of referencing this node's")
    .action(async (name: string, o: { range: string; dir?: string; vendorSdk?: boolean }) => {
      const dir = o.dir ?? name;
      const files = await scaffoldPlugin({
        name,
        range: o.range,
        dir,
        vendorSdk: o.vendorSdk === true,
      });
      out(`created ${dir}: ${files.join(", ")}`);
      out(`next: cd ${dir} && deno test`);
    });
}
