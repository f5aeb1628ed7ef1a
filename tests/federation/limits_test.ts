import { assert, assertEquals } from "./_assert.ts";
import { RateLimiter } from "../../federation/ratelimit.ts";
import { Backoff } from "../../federation/backoff.ts";

Deno.test("ratelimit: burst then wait time proportional to debt, per key, refills", () => {
  const r = new RateLimiter({ rate: 10, burst: 5 });
  for (let i = 0; i < 5; i++) assertEquals(r.take("a", 0), 0);
  assertEquals(r.take("a", 0), 100); // one token short at 10/s
  assertEquals(r.take("a", 0), 200);
  assertEquals(r.take("b", 0), 0); // other family unaffected
  assertEquals(r.peek("a", 200), 100);
  assertEquals(r.take("a", 1000), 0); // refilled 10 tokens, capped at burst
  assertEquals(r.peek("a", 1000, 4), 0); // 5 (cap) - 1 taken
  assertEquals(r.peek("a", 1000, 6), 200);
});

Deno.test("ratelimit: memory is bounded by maxKeys", () => {
  const r = new RateLimiter({ rate: 1, burst: 1 }, 100);
  for (let i = 0; i < 1000; i++) r.take(`k${i}`, i * 10);
  assert(r.size <= 100, `size ${r.size}`);
});

Deno.test("backoff: exponential with jitter bounds, capped, reset goes back to short", () => {
  const lo = new Backoff({ baseMs: 100, capMs: 1000 }, () => 0);
  const hi = new Backoff({ baseMs: 100, capMs: 1000 }, () => 0.999999);
  assertEquals([1, 2, 3, 4, 5, 6].map(() => lo.next()), [50, 100, 200, 400, 500, 500]);
  assertEquals([1, 2, 3, 4, 5, 6].map(() => hi.next()), [100, 200, 400, 800, 1000, 1000]);
  assertEquals(lo.attempts, 6);
  lo.reset();
  assertEquals(lo.next(), 50);
  const real = new Backoff();
  const d = real.next();
  assert(d >= 125 && d <= 250 && d < 1000, "first retry within a second");
});
