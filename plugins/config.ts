/**
 * The `plugins` section of the node's config file (docs/OPERATOR.md
 * "Configuration"), registered with the core when this module loads
 * (core/node/config.ts `registerConfigSection`); plugins/service.ts imports it.
 *
 * @module
 */

import { z } from "zod";
import { registerConfigSection } from "../core/node/config.ts";

// deno-doc-ignore missing-explicit-type -- the zod schema's type is inferred; PluginsConfig documents the result
/** The `plugins` section (every key optional). */
export const PluginsConfigSchema = z.object({
  dir: z.string().optional(),
  policy: z.string().optional(),
  busRoot: z.string().default("/"),
}).strict();

// deno-doc-ignore private-type-ref -- zod's inferred output type; the keys are documented in docs/OPERATOR.md
/** The validated `plugins` section. */
export type PluginsConfig = z.infer<typeof PluginsConfigSchema>;

declare module "../core/node/config.ts" {
  /** The plugin host's section. */
  interface ConfigSections {
    /** Plugin directory, policy file and bus root (this module). */
    plugins: PluginsConfig;
  }
}

// The plugin host is built once at start: a changed section needs a restart.
registerConfigSection("plugins", PluginsConfigSchema, { restartOnly: true });
