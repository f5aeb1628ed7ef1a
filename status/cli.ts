/**
 * `myclerk status-page`: prints the status page's URL with its token (the
 * token is created in `DATA/status.token`, 0600, when missing).
 *
 * @module
 */

import type { Command } from "commander";
import { configFromOptions, fail } from "../core/cli/mod.ts";
import { loadOrCreateToken, tokenPath } from "./token.ts";

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds `status-page` to `program`. */
export function registerStatusCommands(program: Command): void {
  program
    .command("status-page")
    .description("print the status page URL with its access token (DATA/status.token, 0600)")
    .option("-d, --data <dir>", "data directory (default ./data)")
    .option("-c, --config <file>", "JSON config file")
    .option("--host <host:port>", "address to print (default: the configured HTTP listen address)")
    .action(async (o: Record<string, unknown>) => {
      try {
        const cfg = await configFromOptions({ config: o.config, data: o.data });
        const token = await loadOrCreateToken(cfg.data);
        let host = o.host ? String(o.host) : cfg.listen.http;
        host = host.replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
        console.log(`http://${host}/?token=${token}`);
        console.error(
          `token file: ${tokenPath(cfg.data)} (0600). From the node's machine no token is needed.`,
        );
      } catch (e) {
        fail(e);
      }
    });
}
