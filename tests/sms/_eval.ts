/**
 * Scores the classifier on the labelled corpus: per-class precision, recall
 * and F1, and extraction accuracy (TAN code, TAN validity, carrier, tracking
 * number, appointment date and time), on a split or on all messages.
 *
 * @module
 */
import { classify, type SmsClass } from "../../plugins/sms-gateway/classify/classify.ts";
import type { CorpusEntry } from "./corpus_gen.ts";

/** The seven classes in wire order. */
export const CLASSES: readonly SmsClass[] = [
  "tan",
  "delivery",
  "appointment",
  "spam",
  "alert",
  "personal",
  "unknown",
];

/** Per-class figures. */
export interface ClassScore {
  /** Messages labelled with the class. */
  readonly support: number;
  /** Precision. */
  readonly p: number;
  /** Recall. */
  readonly r: number;
  /** F1. */
  readonly f1: number;
}

/** One extraction field's accuracy (over messages of its class that the classifier got right). */
export interface FieldScore {
  /** Correct values. */
  readonly ok: number;
  /** Messages checked. */
  readonly n: number;
}

/** Result of {@link evaluate}. */
export interface EvalResult {
  /** Messages scored. */
  readonly n: number;
  /** Accuracy over all classes. */
  readonly accuracy: number;
  /** Per class. */
  readonly classes: Readonly<Record<SmsClass, ClassScore>>;
  /** Extraction accuracy per field, among messages of the right class (gold label). */
  readonly fields: Readonly<Record<string, FieldScore>>;
  /** Misclassified messages (id, gold, predicted, rule, text). */
  readonly errors: readonly { id: string; gold: string; got: string; rule: string; text: string }[];
  /** Wrong extractions. */
  readonly fieldErrors: readonly { id: string; field: string; want: unknown; got: unknown }[];
}

/** Reads `tests/sms/corpus.jsonl`. */
export async function loadCorpus(): Promise<CorpusEntry[]> {
  const text = await Deno.readTextFile(new URL("./corpus.jsonl", import.meta.url));
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as CorpusEntry);
}

/** Scores the classifier on `entries`. */
export function evaluate(entries: readonly CorpusEntry[]): EvalResult {
  const tp: Record<string, number> = {};
  const fp: Record<string, number> = {};
  const fn: Record<string, number> = {};
  const support: Record<string, number> = {};
  const fields: Record<string, { ok: number; n: number }> = {};
  const errors: EvalResult["errors"][number][] = [];
  const fieldErrors: EvalResult["fieldErrors"][number][] = [];
  let correct = 0;
  const field = (id: string, name: string, want: unknown, got: unknown) => {
    const f = fields[name] ??= { ok: 0, n: 0 };
    f.n++;
    if (JSON.stringify(want) === JSON.stringify(got)) f.ok++;
    else fieldErrors.push({ id, field: name, want, got });
  };
  for (const e of entries) {
    const c = classify({ text: e.text, from: e.from, received: new Date(e.received) });
    support[e.label] = (support[e.label] ?? 0) + 1;
    if (c.cls === e.label) {
      correct++;
      tp[e.label] = (tp[e.label] ?? 0) + 1;
    } else {
      fp[c.cls] = (fp[c.cls] ?? 0) + 1;
      fn[e.label] = (fn[e.label] ?? 0) + 1;
      errors.push({ id: e.id, gold: e.label, got: c.cls, rule: c.rule, text: e.text });
    }
    // Extraction is scored on every message of the class; a misclassified one counts as wrong.
    const x = c.cls === e.label ? c.extracted : {};
    if (e.label === "tan") {
      field(e.id, "tan.code", e.expect.code, x.code);
      field(e.id, "tan.validity", e.expect.validitySec ?? null, x.validitySec ?? null);
    } else if (e.label === "delivery") {
      field(e.id, "delivery.carrier", e.expect.carrier, x.carrier);
      field(e.id, "delivery.tracking", e.expect.tracking ?? null, x.tracking ?? null);
    } else if (e.label === "appointment") {
      field(e.id, "appointment.date", e.expect.date, x.date);
      field(e.id, "appointment.time", e.expect.time, x.time);
    }
  }
  const classes = {} as Record<SmsClass, ClassScore>;
  for (const k of CLASSES) {
    const t = tp[k] ?? 0;
    const p = t + (fp[k] ?? 0) === 0 ? 1 : t / (t + (fp[k] ?? 0));
    const r = t + (fn[k] ?? 0) === 0 ? 1 : t / (t + (fn[k] ?? 0));
    classes[k] = { support: support[k] ?? 0, p, r, f1: p + r === 0 ? 0 : (2 * p * r) / (p + r) };
  }
  return {
    n: entries.length,
    accuracy: correct / entries.length,
    classes,
    fields,
    errors,
    fieldErrors,
  };
}

/** The figures as a text table. */
export function report(title: string, r: EvalResult): string {
  const f = (x: number) => x.toFixed(3);
  const lines = [`${title}: ${r.n} messages, accuracy ${f(r.accuracy)}`];
  lines.push("  class        support  precision  recall  F1");
  for (const k of CLASSES) {
    const c = r.classes[k];
    lines.push(
      `  ${k.padEnd(12)} ${String(c.support).padStart(7)}  ${f(c.p).padStart(9)}  ${
        f(c.r).padStart(6)
      }  ${f(c.f1)}`,
    );
  }
  lines.push("  extraction (share of gold-class messages with the exact value):");
  for (const [k, v] of Object.entries(r.fields)) {
    lines.push(`  ${k.padEnd(20)} ${v.ok}/${v.n} = ${f(v.ok / Math.max(1, v.n))}`);
  }
  return lines.join("\n");
}
