/**
 * Example vendor plugin (0xF100-0xF10F), written only against the SDK.
 *
 * | opcode | request | response |
 * |---|---|---|
 * | 0xF100 ECHO | anything | `{ echo, session }` |
 * | 0xF101 UPPER | `{ text }` | `{ text }` upper-cased |
 * | 0xF102 TICK | `{ count }` (1-100) | `{ started: count }`, then `count` events 0xF103 `{ n }` to the caller |
 * | 0xF104 NOTE | `{ text }` | appends to `notes.txt` in its data dir, `{ bytes }` |
 * | 0xF105 ADMIN | `{}` | `{ admin: true }`, minimum tier 3 (manifest) |
 * | 0xF106 REFUSE | any | always BAD_REQUEST `vendor-says-no` |
 *
 * @module
 */
import { asMap, definePlugin, ErrorCode, fail, field } from "@myclerk/plugin-sdk";

/** Opcodes of this plugin. */
export const VendorOp = {
  ECHO: 0xf100,
  UPPER: 0xf101,
  TICK: 0xf102,
  TICK_EVENT: 0xf103,
  NOTE: 0xf104,
  ADMIN: 0xf105,
  REFUSE: 0xf106,
} as const;

export default definePlugin({
  events: [VendorOp.TICK_EVENT],
  handlers: {
    [VendorOp.ECHO]: (payload, ctx) => ({ echo: payload, session: ctx.peer.sessionId }),
    [VendorOp.UPPER]: (payload) => ({
      text: field(asMap(payload), "text", "string").toUpperCase(),
    }),
    [VendorOp.TICK]: (payload, ctx) => {
      const count = field(asMap(payload), "count", "number");
      if (!Number.isInteger(count) || count < 1 || count > 100) {
        fail(ErrorCode.BAD_REQUEST, "count");
      }
      // Events go out after the response, like a stream after STREAM_START.
      setTimeout(() => {
        for (let n = 0; n < count; n++) ctx.emit(VendorOp.TICK_EVENT, { n }, ctx.peer.sessionId);
      }, 0);
      return { started: count };
    },
    [VendorOp.NOTE]: async (payload, ctx) => {
      const text = field(asMap(payload), "text", "string");
      const bytes = new TextEncoder().encode(text + "\n");
      await Deno.writeFile(`${ctx.grant.dataDir}/notes.txt`, bytes, { append: true });
      return { bytes: bytes.length };
    },
    [VendorOp.ADMIN]: () => ({ admin: true }),
    [VendorOp.REFUSE]: () => fail(ErrorCode.BAD_REQUEST, "vendor-says-no"),
  },
});
