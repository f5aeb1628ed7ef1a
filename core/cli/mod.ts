/**
 * Registers the core subcommands. serve/keys/inspect/ping land with issue 3.
 *
 * @module
 */
import type { Command } from "commander";

/** Adds the core subcommands to `program` (none yet in this snapshot). */
export function registerCoreCommands(_program: Command): void {}
