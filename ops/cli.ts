/**
 * `myclerk backup`: online backup of a data directory (ops/backup.ts).
 *
 * @module
 */

import type { Command } from "commander";
import { configFromOptions, fail } from "../core/cli/mod.ts";
import { backupDataDir } from "./backup.ts";

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds `backup` to `program`. */
export function registerOpsCommands(program: Command): void {
  program
    .command("backup")
    .description("online backup of the data directory into a new folder (safe while serving)")
    .argument("<out>", "new (or empty) folder to write the backup to")
    .option("-d, --data <dir>", "data directory (default ./data)")
    .option("-c, --config <file>", "JSON config file")
    .action(async (out: string, o: Record<string, unknown>) => {
      try {
        const cfg = await configFromOptions({ config: o.config, data: o.data });
        const r = await backupDataDir(cfg.data, out);
        console.log(
          `backed up ${cfg.data} -> ${out}: ${r.stores.length} store(s) (${
            r.stores.join(", ") || "none"
          }), ${r.files.length} file(s), ${r.bytes} bytes`,
        );
        console.log(`restore: stop the node, put ${out} in place of ${cfg.data}, start it`);
      } catch (e) {
        fail(e);
      }
    });
}
