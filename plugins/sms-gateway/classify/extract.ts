/**
 * Extraction from SMS text (pure): the TAN/OTP code and its validity, the
 * parcel carrier and tracking number, the date and time of an appointment.
 * German and English phrasings.
 *
 * @module
 */

/** A code candidate found in the text. */
export interface CodeCandidate {
  /** Normalised code: digits (and letters for alphanumeric codes), no separators. */
  readonly code: string;
  /** Offset of the candidate in the text. */
  readonly at: number;
  /** Raw text matched. */
  readonly raw: string;
}

/** Words that name a one-time code (lower case, German and English). */
export const TAN_WORDS_STRONG: readonly RegExp[] = [
  /\b(?:sms|m|mobile|i)?tan\b/,
  /\bmtan\b/,
  /\botp\b/,
  /one[- ]time[- ]pass(?:word|code)?/,
  /einmal[- ]?passwort/,
  // One-time PINs ("Einmal-PIN", "one-time PIN", "Sicherheits-PIN").
  /(?:einmal|one[- ]time|sicherheits|security|transaktions|transaction)[- ]?pin\b/,
  /passcode/,
  /(?:bestätigungs|sicherheits|verifizierungs|anmelde|freigabe|login|zugangs|registrierungs|autorisierungs|bestätigung)[- ]?code/,
  /(?:verification|security|confirmation|login|registration|authentication|access|sign[- ]in|guard|account) code/,
  /\b(?:dein|ihr|your)\b[^.\n]{0,25}?\bcode\b/,
  /\bcode\b\s*(?:lautet|ist|is|:)/,
  /-code\b/,
  /\bcode\s+\S{4,9}\s+(?:für|for|zur|to)\b/,
  /\b(?:den|the)\s+code\s+[A-Z0-9]{4,9}\b/i,
  /\b(?:use|verwenden sie den)\b\s+(?:code\s+)?\S{4,9}\s+(?:as|für)/,
  // Any compound ending in -code/-token ("Einmalcode", "Kopplungscode", "Login-Token"); vouchers
  // and pickup/door codes are removed by NOT_TAN_CODE before this is tested.
  /[a-zäöü]{3,}-?(?:code|token)\b/,
  /\b(?:token|passwort|password|pin)\b\s*(?:ist|is|lautet|:)/,
  /\bcode\s*:?\s*(?:\d{4,8}|\d{3}[- ]\d{3})\b/,
];

/** A code used to verify or confirm something ("Use 78091 to verify", "Bestätigen Sie mit 40982"). */
export const VERIFY_WORDS =
  /\b(?:verify|verification|confirm|bestätigen|bestätige|bestätigung|verifizieren|anmelden|anmeldung|login|log in|sign in|two-factor|2fa|zwei-faktor)\b/;

/** Compounds with "code" that are not one-time codes. */
const NOT_TAN_CODE =
  /(?:gutschein|rabatt|promo|discount|coupon|aktions|voucher|abhol|pick[- ]?up|collection|locker|tür|haustür|gate|door|post|zip|alarm|safe|lock|schloss|garage|wlan|wifi)[- ]?code|\b(?:use|with|mit dem|mit)\s+code\s+[a-z]+\d*\b|\bcode\s+(?:for|of|vom|für|von|zum|zur|fürs)\s+(?:the\s+|die\s+|das\s+|den\s+|dem\s+|der\s+|my\s+|your\s+|our\s+)?(?:key\s?safe|safe|schließfach|garagentor|tor|garage|haustür|tür|door|gate|lock|schloss|fahrradschloss|alarm|keybox|schlüsselkasten|wlan|wifi)/i;

/** Words right before a number that make it something other than a code. */
const NOT_CODE_BEFORE =
  /(?:\b(?:iban|(?<!-)konto|kontonummer|(?<!-)account|karte|card|endet auf|ending in|ends in|kunden(?:nummer)?|customer|order|bestellung|vorgangsnummer|buchungsnummer|booking ref|ref(?:erence)?|sendung(?:snummer)?|tracking|paket(?:nummer)?|parcel|shipment|nummer|number|tel\.?|telefon|hotline|call|phone|anrufen|unter|raum|zimmer|room|kennzeichen|to|an|plz|fax|pegel)|\*\*|\.\.\.)\s*[:#]?\s*$/i;

/**
 * Code-like tokens: 4-8 digits, `123-456`, `123 456`, `G-123456`, or a
 * 5-character upper-case mix of letters and digits. Amounts, dates, times,
 * phone-number groups and account/tracking references are skipped.
 */
export function codeCandidates(text: string): CodeCandidate[] {
  const out: CodeCandidate[] = [];
  const re =
    /(?<![\w.,:/+*#€$£-])(?:G-)?(\d{3}[- ]\d{3}|\d{4,8}|(?=[A-Z0-9]{5}\b)(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{5})(?![\w/€$£-]|[.,:]\d|\s?(?:eur|euro|€|uhr|min|minuten|minutes|mph|grad|l\/qm|%|kb|mb|gb)\b)/giu;
  for (const m of text.matchAll(re)) {
    const raw = m[0];
    const at = m.index ?? 0;
    const before = text.slice(Math.max(0, at - 24), at);
    if (NOT_CODE_BEFORE.test(before)) continue;
    // Part of a phone number or a longer digit group ("069 5008 9990", "0800 123456").
    if (/\d[ ]$/.test(before) && !/^\d{3}[- ]\d{3}$/.test(m[1])) continue;
    const after = text.slice(at + raw.length, at + raw.length + 3);
    if (/^ \d{2,}/.test(after) && !/^\d{3}[- ]\d{3}$/.test(m[1])) continue;
    // Years right after a date ("20.11.2026") are excluded by the lookbehind; bare years are too.
    if (/^(19|20)\d{2}$/.test(m[1]) && /\b(?:im|in|seit|since|jahr|year)\s*$/i.test(before)) {
      continue;
    }
    const isAlnum = /[A-Za-z]/.test(m[1]);
    if (isAlnum && m[1] !== m[1].toUpperCase()) continue;
    out.push({ code: m[1].replace(/[- ]/g, "").toUpperCase(), at, raw });
  }
  // Grouped codes ("5092-7731", "7744 1190", "8843 19") only right after a code word or a verb
  // that introduces one: elsewhere such groups are phone numbers.
  for (
    const m of text.matchAll(
      /(?:code|tan|token|lautet|ist|is|:|nutze|use|mit)\s*:?\s+(\d{2,4}[- ]\d{2,4}(?:[- ]\d{2,4})?)(?![\d\w])/gi,
    )
  ) {
    const digits = m[1].replace(/[- ]/g, "");
    if (digits.length < 6 || digits.length > 8 || /^\d{3}[- ]\d{3}$/.test(m[1])) continue;
    const at = (m.index ?? 0) + m[0].length - m[1].length;
    out.push({ code: digits, at, raw: m[1] });
  }
  // All-letter codes (Steam Guard "USART") and longer letter+digit codes (ELSTER "7H3K9Q") only
  // right after a code word or a colon, never elsewhere.
  for (
    const m of text.matchAll(
      /(?:code|lautet|is|:)\s*:?\s+([A-Z]{5}|(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6,8})(?![\w])/g,
    )
  ) {
    const at = (m.index ?? 0) + m[0].length - m[1].length;
    out.push({ code: m[1], at, raw: m[1] });
  }
  return out;
}

/** Offsets of TAN keywords in the lower-cased text. */
function keywordSpots(lower: string): number[] {
  const spots: number[] = [];
  for (const re of TAN_WORDS_STRONG) {
    const g = new RegExp(re.source, "g");
    for (const m of lower.matchAll(g)) spots.push((m.index ?? 0) + m[0].length / 2);
  }
  return spots;
}

/** True when the text names a one-time code (and not a voucher/door/pickup code). */
export function hasTanKeyword(text: string): boolean {
  const lower = text.toLowerCase();
  const cleaned = lower.replace(new RegExp(NOT_TAN_CODE.source, "gi"), " ");
  return TAN_WORDS_STRONG.some((re) => re.test(cleaned));
}

/**
 * The code of a TAN/OTP message: the candidate nearest a TAN keyword, with
 * a bonus when the keyword introduces it (`lautet`, `is`, `:`). Undefined
 * when no candidate exists.
 */
export function extractCode(text: string): string | undefined {
  const cands = codeCandidates(text);
  if (cands.length === 0) return undefined;
  const lower = text.toLowerCase();
  const spots = keywordSpots(lower);
  let best: CodeCandidate | undefined;
  let bestScore = -Infinity;
  for (const c of cands) {
    const dist = spots.length === 0 ? 200 : Math.min(...spots.map((s) => Math.abs(s - c.at)));
    let score = -dist;
    const before = lower.slice(Math.max(0, c.at - 30), c.at);
    const after = lower.slice(c.at + c.raw.length, c.at + c.raw.length + 40);
    if (/(?:tan|code|passwort|password|otp|passcode|lautet|ist|is|:)\s*$/.test(before)) score += 40;
    if (/^\s*(?:ist|is)\s+(?:ihr|dein|your)\b/.test(after)) score += 40;
    if (/^\s*(?:as|für|als)\b/.test(after) && /\b(?:use|verwenden)\b/.test(before)) score += 30;
    if (/[A-Z]/.test(c.code)) score -= 10;
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best?.code;
}

/**
 * Validity of a code in seconds: relative ("gültig für 5 Minuten", "expires
 * in 10 minutes", "1 Stunde gültig") or absolute ("gültig bis 14:32 Uhr",
 * "expires at 10:15", resolved against `received`). Null when none is stated.
 */
export function extractValidity(text: string, received: Date): number | null {
  const t = text.toLowerCase();
  const unit = (u: string): number =>
    /^(?:stunde|stunden|std|hour|hours|hr|hrs|h)$/.test(u)
      ? 3600
      : /^(?:sek|sekunden|sec|seconds|s)$/.test(u)
      ? 1
      : 60;
  const U =
    "(minuten|minute|min|mins|minutes|stunden|stunde|std|hours|hour|hrs|sekunden|seconds|sec)";
  const KEY = "(?:gültig|gueltig|gilt|valid|läuft|laeuft|expire|expires|abläuft|verfällt|expiry)";
  const rel1 = new RegExp(`${KEY}[^.\\d\\n]{0,25}?(\\d{1,3})\\s*${U}\\b`).exec(t);
  if (rel1) return Number(rel1[1]) * unit(rel1[2]);
  const rel2 = new RegExp(`(\\d{1,3})\\s*${U}\\.?\\s*(?:lang\\s*)?${KEY}`).exec(t);
  if (rel2) return Number(rel2[1]) * unit(rel2[2]);
  // "Use it within 10 min": a deadline to enter the code is its validity.
  const rel0 = new RegExp(`(?:within|innerhalb(?:\\s+von)?)\\s+(\\d{1,3})\\s*${U}\\b`).exec(t);
  if (rel0 && /\b(?:use|enter|eingeben|verwenden|nutzen)\b/.test(t)) {
    return Number(rel0[1]) * unit(rel0[2]);
  }
  const abs = new RegExp(`${KEY}[^\\d\\n]{0,15}?(?:bis|until|at|um)?\\s*(\\d{1,2})[:.](\\d{2})`)
    .exec(t);
  if (abs) {
    const at = new Date(received);
    at.setHours(Number(abs[1]), Number(abs[2]), 0, 0);
    const s = Math.round((at.getTime() - received.getTime()) / 1000);
    return s > 0 ? s : s + 86400;
  }
  return null;
}

/** Carrier ids and how they are recognised (name in text or sender). */
export const CARRIERS: readonly { readonly id: string; readonly re: RegExp }[] = [
  { id: "dhl", re: /\bdhl\b|packstation|postfiliale/i },
  { id: "hermes", re: /\bhermes\b|\bevri\b|paketshop/i },
  { id: "dpd", re: /\bdpd\b|\bpredict\b/i },
  { id: "ups", re: /\bups\b/i },
  { id: "gls", re: /\bgls\b/i },
  { id: "fedex", re: /\bfedex\b/i },
  { id: "amazon", re: /\bamazon\b|\bamzn\b/i },
  { id: "deutsche-post", re: /deutsche post|\bdt\.?\s?post\b|einschreiben/i },
  { id: "royal-mail", re: /royal\s?mail/i },
  { id: "yodel", re: /\byodel\b/i },
];

/** Carrier service words that also appear next to another carrier's name ("GLS PaketShop"). */
const WEAK_CUES = /packstation|postfiliale|paketshop|\bpredict\b/gi;

/** Tracking number formats, most specific first, with the carrier they imply. */
const TRACKING: readonly { readonly re: RegExp; readonly carrier?: string }[] = [
  { re: /\b1Z[0-9A-Z]{16}\b/, carrier: "ups" },
  { re: /\bJJD\d{18}\b/, carrier: "dhl" },
  { re: /\bTBA\d{12}\b/, carrier: "amazon" },
  { re: /\b[A-Z]{2}\d{9}DE\b/, carrier: "deutsche-post" },
  { re: /\b[A-Z]{2}\d{9}GB\b/, carrier: "royal-mail" },
  { re: /\bJD\d{16}\b/, carrier: "yodel" },
  { re: /\bH\d{19}\b/, carrier: "hermes" },
  { re: /\b00340434\d{12}\b/, carrier: "dhl" },
  // Letters and digits right after a tracking word (Evri "H00A…", shop references).
  {
    re:
      /(?<=(?:sendung(?:snummer)?|paket(?:nummer)?|parcel|tracking(?: id| number)?|shipment|package)\s*:?\s*)(?=[A-Z0-9]*\d{8})[A-Z0-9]{10,24}\b/i,
  },
  { re: /(?<![\d-])\d{10,20}(?![\d-])/ },
];

/** Carrier and tracking number of a parcel notice (either may be absent). */
export function extractDelivery(
  text: string,
  sender = "",
): { carrier: string | null; tracking: string | null } {
  let tracking: string | null = null;
  let implied: string | undefined;
  for (const t of TRACKING) {
    const m = t.re.exec(text);
    if (m) {
      tracking = m[0];
      implied = t.carrier;
      break;
    }
  }
  // A carrier named in the text wins over the sender (a shop sends "... mit DHL").
  // Brand names first; service words (Packstation, PaketShop, Predict) only when no brand is named.
  const brands = CARRIERS.filter((c) => c.re.test(text.replace(WEAK_CUES, " ")));
  const named = brands.length > 0 ? brands : CARRIERS.filter((c) => c.re.test(text));
  let carrier: string | null = null;
  if (named.length === 1) carrier = named[0].id;
  else if (named.length > 1) {
    // The shipping carrier, not the shop: prefer one other than amazon, else the first.
    carrier = (implied !== undefined && named.some((c) => c.id === implied))
      ? implied
      : (named.find((c) => c.id !== "amazon") ?? named[0]).id;
  } else if (implied !== undefined) carrier = implied;
  else carrier = CARRIERS.find((c) => c.re.test(sender))?.id ?? null;
  return { carrier, tracking };
}

const MONTHS: Readonly<Record<string, number>> = {
  januar: 1,
  jan: 1,
  january: 1,
  februar: 2,
  feb: 2,
  february: 2,
  märz: 3,
  maerz: 3,
  mär: 3,
  march: 3,
  mar: 3,
  april: 4,
  apr: 4,
  mai: 5,
  may: 5,
  juni: 6,
  jun: 6,
  june: 6,
  juli: 7,
  jul: 7,
  july: 7,
  august: 8,
  aug: 8,
  september: 9,
  sep: 9,
  sept: 9,
  oktober: 10,
  okt: 10,
  october: 10,
  oct: 10,
  november: 11,
  nov: 11,
  dezember: 12,
  dez: 12,
  december: 12,
  dec: 12,
};
const MONTH_RE =
  "(januar|februar|märz|maerz|april|mai|juni|juli|august|september|oktober|november|dezember|january|february|march|may|june|july|october|december|jan|feb|mär|mar|apr|jun|jul|aug|sept|sep|okt|oct|nov|dez|dec)";

function iso(y: number, m: number, d: number): string {
  return `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** A date without a year is the next one on or after the received day. */
function withYear(m: number, d: number, received: Date): string {
  let y = received.getFullYear();
  const cand = new Date(y, m - 1, d);
  const day0 = new Date(received.getFullYear(), received.getMonth(), received.getDate());
  if (cand < day0) y++;
  return iso(y, m, d);
}

function valid(m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/** The first date in the text as ISO `YYYY-MM-DD` (relative words resolve against `received`). */
export function extractDate(text: string, received: Date): string | undefined {
  const t = text.toLowerCase();
  const found: { at: number; v: string }[] = [];
  const add = (at: number, v: string | undefined) => v !== undefined && found.push({ at, v });
  for (const m of t.matchAll(/(?<![\d.])(\d{4})-(\d{2})-(\d{2})(?!\d)/g)) {
    add(m.index!, valid(+m[2], +m[3]) ? iso(+m[1], +m[2], +m[3]) : undefined);
  }
  for (const m of t.matchAll(/(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2}(?!\d))?/g)) {
    const d = +m[1];
    const mo = +m[2];
    if (!valid(mo, d)) continue;
    if (m[3] !== undefined) add(m.index!, iso(m[3].length === 2 ? 2000 + +m[3] : +m[3], mo, d));
    else add(m.index!, withYear(mo, d, received));
  }
  for (const m of t.matchAll(/(?<![\d/])(\d{1,2})\/(\d{1,2})\/(\d{4})(?![\d/])/g)) {
    if (valid(+m[2], +m[1])) add(m.index!, iso(+m[3], +m[2], +m[1]));
  }
  for (const m of t.matchAll(/(?<![\d/.,])(\d{1,2})\/(\d{1,2})(?![\d/]|\.\d)/g)) {
    if (m[0] === "24/7" || !valid(+m[2], +m[1]) || +m[1] > 31) continue;
    add(m.index!, withYear(+m[2], +m[1], received));
  }
  for (
    const m of t.matchAll(
      new RegExp(
        `(?<!\\d)(\\d{1,2})(?:st|nd|rd|th|\\.)?\\s+(?:of\\s+)?${MONTH_RE}\\b\\.?(?:\\s+(\\d{4}))?`,
        "g",
      ),
    )
  ) {
    const mo = MONTHS[m[2]];
    if (!valid(mo, +m[1])) continue;
    add(m.index!, m[3] ? iso(+m[3], mo, +m[1]) : withYear(mo, +m[1], received));
  }
  for (
    const m of t.matchAll(
      new RegExp(`${MONTH_RE}\\s+(\\d{1,2})(?:st|nd|rd|th)?(?:,?\\s+(\\d{4}))?(?![\\d:])`, "g"),
    )
  ) {
    const mo = MONTHS[m[1]];
    if (!valid(mo, +m[2])) continue;
    add(m.index!, m[3] ? iso(+m[3], mo, +m[2]) : withYear(mo, +m[2], received));
  }
  const rel: [RegExp, number][] = [
    // No \b before a non-ASCII letter: it would never match "übermorgen", and "morgen" inside it would.
    [/(?<![a-zäöüß])übermorgen\b/, 2],
    [/(?<![a-zäöüß])(?:morgen|tomorrow)\b/, 1],
    [/\b(?:heute|today|tonight|heute abend)\b/, 0],
  ];
  for (const [re, off] of rel) {
    const m = re.exec(t);
    if (m) {
      const d = new Date(received.getFullYear(), received.getMonth(), received.getDate() + off);
      add(m.index, iso(d.getFullYear(), d.getMonth() + 1, d.getDate()));
    }
  }
  const live = dropSuperseded(t, found);
  if (live.length > 0) return live[0].v;
  return weekdayDate(t, received);
}

/** German and English weekday names (and abbreviations) to JS day numbers (Sunday 0). */
const WEEKDAYS: readonly [RegExp, number][] = [
  [/^(?:montag|monday|mon?)$/, 1],
  [/^(?:dienstag|tuesday|tues?|di)$/, 2],
  [/^(?:mittwoch|wednesday|wed|mi)$/, 3],
  [/^(?:donnerstag|thursday|thu|thur|thurs|do)$/, 4],
  [/^(?:freitag|friday|fri|fr)$/, 5],
  [/^(?:samstag|sonnabend|saturday|sat|sa)$/, 6],
  [/^(?:sonntag|sunday|sun|so)$/, 0],
];
const WEEKDAY_FULL =
  "(montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag|monday|tuesday|wednesday|thursday|friday|saturday|sunday)";
const WEEKDAY_ANY =
  "(montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag|monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu|fri|sat|sun|mo|di|mi|do|fr|sa|so)";

function weekdayNumber(w: string): number {
  return WEEKDAYS.find(([re]) => re.test(w))?.[1] ?? -1;
}

/**
 * A date named by its weekday only: "Wed 25th" (the next 25th that is a
 * Wednesday), "am Montag", "on Monday" (the next such day after the received
 * day). Used when the text has no explicit date.
 */
function weekdayDate(t: string, received: Date): string | undefined {
  const day0 = new Date(received.getFullYear(), received.getMonth(), received.getDate());
  const withDay = new RegExp(
    `\\b${WEEKDAY_ANY}\\.?,?\\s+(?:the\\s+|den\\s+)?(\\d{1,2})(?:st|nd|rd|th|\\.)(?![\\d.])`,
  ).exec(t);
  if (withDay) {
    const wd = weekdayNumber(withDay[1]);
    const d = +withDay[2];
    for (let k = 0; k < 24 && d >= 1 && d <= 31; k++) {
      const c = new Date(day0.getFullYear(), day0.getMonth() + k, d);
      if (c.getDate() !== d || c < day0) continue;
      if (wd < 0 || c.getDay() === wd) return iso(c.getFullYear(), c.getMonth() + 1, d);
    }
  }
  const bare = new RegExp(`\\b${WEEKDAY_FULL}\\b`).exec(t);
  if (bare) {
    const wd = weekdayNumber(bare[1]);
    const ahead = ((wd - day0.getDay() + 7) % 7) || 7;
    const c = new Date(day0.getFullYear(), day0.getMonth(), day0.getDate() + ahead);
    return iso(c.getFullYear(), c.getMonth() + 1, c.getDate());
  }
  return undefined;
}

/** Words saying an appointment moved: the value after "auf"/"to" replaces the one after "vom"/"from". */
const CHANGE_CUE =
  /verschoben|verlegt|geändert|umgebucht|changed|moved|rescheduled|postponed|brought forward/;

/**
 * Candidates minus those inside a "vom X auf Y" / "from X to Y" span of a
 * rescheduling message (the old value); all of them when nothing is left.
 */
function dropSuperseded<T extends { at: number }>(t: string, found: T[]): T[] {
  found.sort((a, b) => a.at - b.at);
  if (!CHANGE_CUE.test(t)) return found;
  const spans: [number, number][] = [];
  for (const m of t.matchAll(/\b(?:vom|von|from)\b(.{1,40}?)\b(?:auf|to|zu|nach)\b/g)) {
    spans.push([m.index!, m.index! + m[0].length]);
  }
  const live = found.filter((f) => !spans.some(([a, b]) => f.at >= a && f.at < b));
  return live.length > 0 ? live : found;
}

/** The first clock time in the text as `HH:MM` (24 h). */
export function extractTime(text: string): string | undefined {
  const t = text.toLowerCase();
  const found: { at: number; h: number; m: number }[] = [];
  for (const m of t.matchAll(/(?<![\d.:])(\d{1,2}):(\d{2})\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])/g)) {
    let h = +m[1];
    const mi = +m[2];
    if (m[3]?.startsWith("p") && h < 12) h += 12;
    if (m[3]?.startsWith("a") && h === 12) h = 0;
    if (h < 24 && mi < 60) found.push({ at: m.index!, h, m: mi });
  }
  for (const m of t.matchAll(/(?<![\d.:])(\d{1,2})\.(\d{2})\s*(am|pm|a\.m\.|p\.m\.)(?!\w)/g)) {
    let h = +m[1];
    if (m[3].startsWith("p") && h < 12) h += 12;
    if (m[3].startsWith("a") && h === 12) h = 0;
    if (h < 24 && +m[2] < 60) found.push({ at: m.index!, h, m: +m[2] });
  }
  for (const m of t.matchAll(/(?<![\d.:])(\d{1,2})\.(\d{2})\s*uhr/g)) {
    if (+m[1] < 24 && +m[2] < 60) found.push({ at: m.index!, h: +m[1], m: +m[2] });
  }
  // A window "zwischen 8 und 10 Uhr" / "8-10 Uhr" starts at its first hour.
  for (const m of t.matchAll(/(?<![\d.:])(\d{1,2})\s*(?:und|bis|-|–)\s*\d{1,2}\s*uhr\b/g)) {
    if (+m[1] < 24) found.push({ at: m.index!, h: +m[1], m: 0 });
  }
  for (const m of t.matchAll(/(?<![\d.:])(\d{1,2})\s*(uhr|am|pm)\b/g)) {
    let h = +m[1];
    if (m[2] === "pm" && h < 12) h += 12;
    if (h < 24) found.push({ at: m.index!, h, m: 0 });
  }
  const f = dropSuperseded(t, found)[0];
  return f === undefined
    ? undefined
    : `${String(f.h).padStart(2, "0")}:${String(f.m).padStart(2, "0")}`;
}
