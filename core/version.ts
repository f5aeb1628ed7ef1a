/** Version of this node (kept equal to deno.json). */
export const VERSION = "0.1.0";
/** Profile identifier of docs/PROTOCOL.md. */
export const PROFILE = "mcp0";
