/**
 * `myclerk call ADDR OPCODE [PAYLOAD-JSON]`: one request from the command
 * line (or a stream of events with `--events`). Exit codes: core/node/call.ts
 * {@link CallExit}, documented in docs/PLUGINS.md "myclerk call".
 *
 * @module
 */
import type { Command } from "commander";
import { CallExit, runCall } from "../node/call.ts";

// deno-doc-ignore private-type-ref -- Command is commander's own exported class (npm)
/** Adds `call` to `program`. */
export function registerCallCommand(program: Command): void {
  program
    .command("call")
    .description(
      "send one request to a node and print the answer as JSON (exit 0 ok, 2 usage, 3 ERROR answer, 4 connect/handshake failure, 5 timeout)",
    )
    .argument("<addr>", "HOST:PORT (TCP, default port 5657) or ws://HOST:PORT[/myclerk]")
    .argument("<opcode>", "opcode, 0xF800 or decimal")
    .argument("[payload]", "request payload as a JSON object (default {})")
    .option("-t, --tier <n>", "highest tier to ask for", "5")
    .option("--events", "after the answer, print pushed events (one JSON a line) until Ctrl-C")
    .option("-n, --count <n>", "with --events: stop after N events")
    .option("--key <file>", "static key file (its key id must be granted: `acl grant`)")
    .option("--timeout <ms>", "handshake and answer timeout", "10000")
    .option("--json", "print JSON only (the default output is JSON already)")
    .action(async (addr: string, opcode: string, payload: string | undefined, o: {
      tier: string;
      events?: boolean;
      count?: string;
      key?: string;
      timeout: string;
    }) => {
      const ac = new AbortController();
      const onInt = () => ac.abort();
      Deno.addSignalListener("SIGINT", onInt);
      const tier = Number(o.tier);
      const timeout = Number(o.timeout);
      const count = o.count === undefined ? undefined : Number(o.count);
      if (!Number.isFinite(timeout) || timeout <= 0 || (count !== undefined && !(count > 0))) {
        console.error("usage: --timeout and --count take positive numbers");
        Deno.exit(CallExit.USAGE);
      }
      const code = await runCall(addr, opcode, payload, {
        tier,
        events: o.events === true,
        count,
        key: o.key,
        timeout,
        signal: ac.signal,
      });
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.exit(code);
    });
}
