/**
 * The opcode registry (core/opcodes.ts): layers declare their ranges, names
 * and minimum tiers; overlapping ranges of two layers are refused naming
 * both; a layer raises the profile's minimum tier but never lowers it; the
 * federation and plugin layers register at import.
 */
import { assert, assertEquals } from "./_assert.ts";
import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import {
  CORE_DEFINED,
  layerOf,
  minimumTier,
  Op,
  opcodeName,
  registeredAccess,
  registeredLayers,
  registerOpcodes,
} from "../../core/opcodes.ts";
import { DirOp, FED_RANGE, FedOp } from "../../federation/ops.ts";
import "../../plugins/opcodes.ts";

function assertThrows(f: () => unknown, _cls: typeof MyClerkError): MyClerkError {
  try {
    f();
  } catch (e) {
    if (e instanceof MyClerkError) return e;
    throw e;
  }
  throw new Error("expected a MyClerkError");
}

Deno.test("registry: a layer's range, names and raised minimum tier", () => {
  const drop = registerOpcodes({
    layer: "test-acme",
    first: 0xf100,
    last: 0xf10f,
    names: { ACME_PING: 0xf100 },
    minTier: [{ first: 0xf108, last: 0xf10f, minTier: 5 }],
  });
  try {
    assertEquals(opcodeName(0xf100), "ACME_PING");
    assertEquals(layerOf(0xf105), "test-acme");
    assertEquals([minimumTier(0xf100), minimumTier(0xf108)], [1, 5]);
  } finally {
    drop();
  }
  assertEquals(opcodeName(0xf100), "0xf100");
  assertEquals(minimumTier(0xf108), 1);
  assertEquals(layerOf(0xf105), undefined);
});

Deno.test("registry: an overlapping range of another layer is refused, naming both", () => {
  const e = assertThrows(
    () => registerOpcodes({ layer: "test-intruder", first: 0x03f0, last: 0x0400 }),
    MyClerkError,
  );
  assertEquals([e.code, e.detail], [ErrorCode.BAD_REQUEST, "opcode-range-overlap"]);
  assertEquals([e.extra.other, e.extra.otherRange], ["federation", "0x0300-0x03FF"]);
  assert(String(e.extra.why).includes('"test-intruder"'), String(e.extra.why));
  assert(String(e.extra.why).includes('"federation"'), String(e.extra.why));
  // refused means not registered: the range still belongs to federation
  assertEquals(layerOf(0x03f5), "federation");
  assert(!registeredLayers().some((r) => r.layer === "test-intruder"), "not registered");
  // the core range is the core layer's
  const c = assertThrows(
    () => registerOpcodes({ layer: "test-core-grab", first: 0x00f0, last: 0x00f0 }),
    MyClerkError,
  );
  assertEquals(c.extra.other, "core");
});

Deno.test("registry: malformed registrations are refused with the reason", () => {
  const bad = (r: Parameters<typeof registerOpcodes>[0], needle: string) => {
    const e = assertThrows(() => registerOpcodes(r), MyClerkError);
    assertEquals(e.detail, "opcode-registration");
    assert(String(e.extra.why).includes(needle), `${e.extra.why} lacks ${needle}`);
  };
  bad({ layer: "t", first: 0xf200, last: 0xf100 }, "ascending");
  bad({ layer: "t", first: 0xf100, last: 0x10000 }, "ascending");
  bad({ layer: "t", first: 0xf100, last: 0xf10f, names: { X: 0xf200 } }, "outside");
  bad({ layer: "t", first: 0xf100, last: 0xf10f, minTier: 6 }, "not 0-5");
  bad(
    {
      layer: "t",
      first: 0xf100,
      last: 0xf10f,
      minTier: [{ first: 0xf0ff, last: 0xf100, minTier: 3 }],
    },
    "outside",
  );
});

Deno.test("registry: a layer never lowers the profile's minimum tier", () => {
  const drop = registerOpcodes({ layer: "test-low", first: 0xf370, last: 0xf37f, minTier: 0 });
  try {
    assertEquals(minimumTier(0xf370), 3);
  } finally {
    drop();
  }
});

Deno.test("registry: federation and plugin names come from their layers", () => {
  assertEquals([FED_RANGE.first, FED_RANGE.last], [0x0300, 0x03ff]);
  for (const [k, v] of Object.entries({ ...FedOp, ...DirOp })) assertEquals(opcodeName(v), k);
  assertEquals(opcodeName(0x0204), "DEVICE_LOCK");
  assertEquals(opcodeName(0x0610), "SERIAL_PORT_LIST");
  assertEquals(minimumTier(0x0204), 3);
  assertEquals(minimumTier(0x0300), 4);
  // the federation layer admits its callers itself; other ranges go through the gate
  assertEquals([registeredAccess(0x0300), registeredAccess(0x03ff)], ["self", "self"]);
  assertEquals([registeredAccess(0x0200), registeredAccess(0xf100)], ["gate", "gate"]);
  // CORE_DEFINED is derived from Op: the profile's §10.1 core opcodes
  assertEquals([...CORE_DEFINED].sort((a, b) => a - b), Object.values(Op).sort((a, b) => a - b));
  assertEquals(CORE_DEFINED.size, 16);
});
