/**
 * The crypto back ends the federation tests run against: both project back
 * ends of `core/crypto/mod.ts`, so every federation vector is checked with
 * `node:crypto` and with `@noble/*`.
 *
 * @module
 */

import { backend } from "../../core/crypto/mod.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";

export { fromHex, toHex } from "../../federation/bytes.ts";

/** Every back end the federation tests run against. */
export const backends: readonly CryptoBackend[] = [backend("node"), backend("noble")];

/** The first back end (the fast one). */
export const be: CryptoBackend = backends[0];
