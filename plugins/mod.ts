/**
 * Plugin runtime: the public surface the node uses.
 *
 * @module
 */
export {
  type DispatchRequest,
  type DispatchResult,
  offlineStatus,
  type PeerInfo,
  type PluginEvent,
  PluginHost,
  type PluginState,
  type PluginStatus,
} from "./runtime/host.ts";
export type { BusInfo, BusReport } from "../hardware/detect.ts";
export { detectBuses } from "../hardware/detect.ts";
export { HOST_API_VERSION, type Manifest, parseManifest, readManifest } from "./manifest.ts";
export { computeGrant, type Grant, parsePolicy, type Policy, readPolicy } from "./policy.ts";
export { checkClaim, RangeTable } from "./ranges.ts";
export { pluginRoutes } from "./http.ts";
export { installPlugin, type PluginCliContext, registerPluginCommands } from "./cli.ts";
