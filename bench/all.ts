/**
 * Runs every benchmark and prints its ratios against the peer measured in
 * the same run (`deno task bench`). Each bench module exports a runner.
 *
 * @module
 */
const benches = [];
for (const b of benches) {
  const url = new URL(`./${b}`, import.meta.url);
  console.log(`\n== bench/${b} ==`);
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", url.pathname],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { code } = await cmd.output();
  if (code !== 0) console.log(`bench/${b} exited with ${code}`);
}
