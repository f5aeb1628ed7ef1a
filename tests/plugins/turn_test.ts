/**
 * plugins/can/turn.ts: a MessageChannel yield lets other work run between
 * turns (I/O callbacks, due timers), resolves pending turns on close, and
 * an unused or closed channel does not keep a process alive.
 */
import { assert, assertEq } from "./_helpers.ts";
import { Turns } from "../../plugins/can/turn.ts";

Deno.test("turns: other macrotasks run between turns; close resolves what waits", async () => {
  const turns = new Turns();
  try {
    let fired = false;
    const t = setTimeout(() => (fired = true), 5);
    const deadline = performance.now() + 5000;
    let n = 0;
    // A loop of turns only: the timer must still fire (a microtask loop would starve it).
    while (!fired && performance.now() < deadline) {
      await turns.next();
      n++;
    }
    clearTimeout(t);
    assert(fired, `a due timer ran between turns (${n} turns)`);
    assert(n > 1, "more than one turn before the 5 ms timer");
    // Order: turns resolve in the order they were asked for.
    const order: number[] = [];
    await Promise.all([0, 1, 2].map((i) => turns.next().then(() => order.push(i))));
    assertEq(order, [0, 1, 2]);
  } finally {
    turns.close();
  }
  // A turn asked for just before close is resolved by it, not left waiting.
  let resolved = false;
  const pending = turns.next().then(() => (resolved = true));
  turns.close();
  await pending;
  assert(resolved, "the pending turn resolved");
  // After close, a new turn opens the channel again.
  await turns.next();
  turns.close();
});

Deno.test("turns: a process whose Turns was closed exits on its own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "myclerk-turns-" });
  try {
    const script = `${dir}/child.ts`;
    const url = new URL("../../plugins/can/turn.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { Turns } from ${JSON.stringify(url)};\n` +
        `const t = new Turns();\nfor (let i = 0; i < 100; i++) await t.next();\n` +
        `t.close();\nconsole.log("closed");\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-read", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const out = await child.output();
    clearTimeout(timer);
    assertEq(new TextDecoder().decode(out.stdout).trim(), "closed");
    assert(out.success, `exited by itself (code ${out.code}, signal ${out.signal})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
