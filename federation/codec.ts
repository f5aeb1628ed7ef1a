/**
 * MessagePack helpers for the federation payloads: the core's encoder and
 * field readers (core/wire/payload.ts, their one home), under the names the
 * federation codecs use, with the federation decoder's own limits (text
 * 64 KiB, at most 64 map entries: no federation map has more).
 *
 * Every reader turns a decoded map into readonly data or a BAD_REQUEST
 * naming the field (`field:<key>`).
 *
 * @module
 */

import { badRequest } from "../core/errors.ts";
import {
  type DecoderLimits,
  encodePayload,
  isMap,
  payloadDecoder,
  type PayloadMap,
} from "../core/wire/payload.ts";

export {
  arrayField,
  binField,
  enumField,
  isMap,
  mapField,
  optTextField,
  optUintField,
  textField,
  uintField,
} from "../core/wire/payload.ts";

/** A decoded MessagePack map with string keys (the core's `PayloadMap`). */
export type FedMap = PayloadMap;

/** Limits of the federation decoder. */
export const FED_DECODER_LIMITS: DecoderLimits = {
  maxStrLength: 1 << 16,
  maxBinLength: 16 << 20,
  maxArrayLength: 1 << 16,
  maxMapLength: 64,
};

/** Encodes a value as MessagePack (shortest forms, `undefined` fields left out). */
export const encodeMsgpack: (value: unknown) => Uint8Array = encodePayload;

/** Decodes exactly one MessagePack value filling `bytes`; BAD_REQUEST `msgpack` otherwise. */
export const decodeMsgpack: (bytes: Uint8Array) => unknown = payloadDecoder(FED_DECODER_LIMITS);

/** Decodes bytes that must hold a map (BAD_REQUEST `payload-not-map`). Zero bytes = `{}`. */
export function decodeFedMap(bytes: Uint8Array): FedMap {
  if (bytes.length === 0) return {};
  const v = decodeMsgpack(bytes);
  if (!isMap(v)) throw badRequest("payload-not-map");
  return v;
}
