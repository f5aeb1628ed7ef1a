/**
 * Reads the node's own `/metrics` text (Prometheus exposition format) into
 * per-family sums, so the status page samples whatever the metric registry
 * renders without depending on how it is built. Pure.
 *
 * @module
 */

/** Sum of every sample of each metric family (labels summed away). */
export type FamilySums = ReadonlyMap<string, number>;

/** Parses exposition text into family sums; comments, NaN and malformed lines are skipped. */
export function sumFamilies(text: string): FamilySums {
  const out = new Map<string, number>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    if (space < 0) continue;
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    // the value follows the label set (which may contain spaces) or the name
    const rest = brace >= 0 && brace < space
      ? line.slice(line.lastIndexOf("}") + 1)
      : line.slice(space);
    const v = Number(rest.trim().split(/\s+/)[0]);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name) || !Number.isFinite(v)) continue;
    out.set(name, (out.get(name) ?? 0) + v);
  }
  return out;
}

/** Sum over the families whose name matches `re`. */
export function sumMatching(sums: FamilySums, re: RegExp): number {
  let n = 0;
  for (const [k, v] of sums) if (re.test(k)) n += v;
  return n;
}

/**
 * Counter families counted as "messages" on the chart: stored at a relay or
 * handed off by it to an online recipient (never stored), delivered to a hub's application, queued in a hub's outbox (the current
 * `myclerk_federation_` names and the old `fed_` spellings both match).
 */
export const MESSAGE_COUNTERS: RegExp =
  /^(?:myclerk_federation_|(?:myclerk_)?fed_)(stored|handed_off|app_delivered|outbox_stored)_total$/;

/** Counter families counted as "drops": every `*_drop_total` / `*_drops_total`. */
export const DROP_COUNTERS: RegExp = /_drops?_total$/;
