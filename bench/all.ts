/**
 * Runs every benchmark and prints its ratios against the peer measured in
 * the same run (`deno task bench [-- --quick]`). Each bench is a script run
 * in its own process so one bench's heap and JIT state cannot skew another.
 *
 * @module
 */
const benches = ["crypto.ts", "wire.ts", "plugins.ts", "store.ts", "relay.ts"];
const extra = Deno.args.filter((a) => a === "--quick");
let failed = 0;
for (const b of benches) {
  const url = new URL(`./${b}`, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    console.log(`\n== bench/${b}: not present, skipped ==`);
    continue;
  }
  console.log(`\n== bench/${b} ==`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", url.pathname, ...extra],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    failed++;
    console.log(`bench/${b} exited with ${code}`);
  }
}
Deno.exit(failed ? 1 : 0);
