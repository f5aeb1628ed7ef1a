/**
 * The status page's pure parts: the chart ring (eviction order), the sampler
 * (rates from counter deltas, a counter reset), and the exposition-text
 * reader the sampler feeds on (labels with spaces and braces, comments, NaN).
 */

import { assertEquals, assertThrows } from "../federation/_assert.ts";
import { Ring, Sampler } from "../../status/ring.ts";
import { DROP_COUNTERS, MESSAGE_COUNTERS, sumFamilies, sumMatching } from "../../status/prom.ts";
import { sameToken } from "../../status/token.ts";

Deno.test("status ring keeps the newest samples oldest-first", () => {
  const r = new Ring(3);
  for (let i = 1; i <= 5; i++) r.push({ t: i, rate: i, depth: i * 10, drops: 0 });
  assertEquals(r.size, 3);
  assertEquals(r.series().t, [3, 4, 5]);
  assertEquals(r.series().depth, [30, 40, 50]);
  assertThrows(() => new Ring(0), RangeError);
});

Deno.test("status sampler: rate per second and drops per interval, counter reset counts from 0", () => {
  const s = new Sampler();
  assertEquals(s.next(0, 100, 5, 7), { t: 0, rate: 0, depth: 7, drops: 0 });
  assertEquals(s.next(2000, 150, 9, 3), { t: 2000, rate: 25, depth: 3, drops: 4 });
  assertEquals(s.next(4000, 10, 1, 0), { t: 4000, rate: 5, depth: 0, drops: 1 });
});

Deno.test("status prom reader sums families across label sets", () => {
  const text = [
    "# HELP fed_stored_total Stored",
    "# TYPE fed_stored_total counter",
    'fed_stored_total{lane="mailbox"} 10',
    'fed_stored_total{lane="peer"} 5',
    'fed_drop_total{reason="a b}c"} 2',
    'myclerk_drops_total{reason="mac"} 3',
    "myclerk_fed_app_delivered_total 4",
    "myclerk_federation_handed_off_total 6",
    "myclerk_federation_handoff_stored_total 1",
    "fed_queue_messages NaN",
    "garbage line without value",
    "",
  ].join("\n");
  const sums = sumFamilies(text);
  assertEquals(sums.get("fed_stored_total"), 15);
  assertEquals(sums.get("fed_drop_total"), 2);
  assertEquals(sums.has("fed_queue_messages"), false);
  // handed off and never stored counts; handed off then stored is in stored_total already
  assertEquals(sumMatching(sums, MESSAGE_COUNTERS), 25);
  assertEquals(sumMatching(sums, DROP_COUNTERS), 5);
});

Deno.test("status token comparison", () => {
  assertEquals(sameToken("ab", "ab"), true);
  assertEquals(sameToken("ab", "ac"), false);
  assertEquals(sameToken("ab", "abc"), false);
});
