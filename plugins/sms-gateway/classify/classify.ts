/**
 * SMS classification into the seven classes of draft §6.4.2 with rules:
 * per-language keyword scores plus structural evidence (a code next to a
 * code word, a carrier with a tracking number, a date with a time, a link
 * to a look-alike domain, an informal sender). Pure and synchronous.
 *
 * Decision order, strongest evidence first: spam (look-alike link) > alert
 * > spam (scam phrase) > TAN > delivery > appointment > spam (marketing) > personal > unknown.
 * Phishing goes before TAN and delivery on purpose: a fake parcel notice
 * names a carrier and a fake bank message names a TAN.
 *
 * @module
 */
import {
  CARRIERS,
  extractCode,
  extractDate,
  extractDelivery,
  extractTime,
  extractValidity,
  hasTanKeyword,
  VERIFY_WORDS,
} from "./extract.ts";

/** Class names. */
export type SmsClass =
  | "tan"
  | "delivery"
  | "appointment"
  | "spam"
  | "alert"
  | "personal"
  | "unknown";

/** Wire values of the classes (draft §6.4.2). */
export const CLASS_CODE: Readonly<Record<SmsClass, number>> = {
  tan: 0x01,
  delivery: 0x02,
  appointment: 0x03,
  spam: 0x04,
  alert: 0x05,
  personal: 0x06,
  unknown: 0x07,
};

/** What was extracted, by class. */
export interface Extraction {
  /** TAN: the code. */
  readonly code?: string;
  /** TAN: validity in seconds, null when not stated. */
  readonly validitySec?: number | null;
  /** Delivery: carrier id, null when unknown. */
  readonly carrier?: string | null;
  /** Delivery: tracking number, null when absent. */
  readonly tracking?: string | null;
  /** Appointment: ISO date. */
  readonly date?: string;
  /** Appointment: HH:MM. */
  readonly time?: string;
}

/** The classifier's answer. */
export interface Classification {
  /** The class. */
  readonly cls: SmsClass;
  /** Its wire value (1-7). */
  readonly code: number;
  /** Which rule decided (for logs and the bench). */
  readonly rule: string;
  /** Extracted fields of that class. */
  readonly extracted: Extraction;
  /** Detected language. */
  readonly lang: "de" | "en";
}

/** Input of {@link classify}. */
export interface SmsInput {
  /** Text. */
  readonly text: string;
  /** Sender (number or alphanumeric id). */
  readonly from?: string;
  /** When it arrived (relative dates and absolute expiry resolve against it). */
  readonly received?: Date;
}

const ALERT = [
  /amtliche\s+(?:unwetter)?warnung/,
  /unwetterwarnung|hitzewarnung|sturmwarnung|hochwasserwarnung/,
  /\bwarnung vor\b/,
  /\bdwd\b/,
  /katwarn/,
  /\bnina\b/,
  /eu-?alert/,
  /emergency alert|presidential alert|extreme alert|severe alert|amber alert/,
  /probewarnung|warntag/,
  /evaku\w*|evacuat\w*/,
  // Civil-protection families: ordnance and cordons, drinking water, gas, missing persons, alarms.
  /bombenentschärfung|blindgänger|fliegerbombe|sperrkreis|sperrzone|sperrgebiet|bereich (?:weiträumig )?(?:verlassen|meiden)|avoid the area/,
  /abkoch\w*|boil (?:your )?(?:tap )?water|do not drink the (?:tap )?water|trinkwasser\w* (?:ist )?(?:verunreinigt|belastet)|nicht trinken/,
  /gasleck|gasaustritt|gas leak|gasgeruch|smell of gas/,
  /child rescue alert|missing (?:child|girl|boy|person|teenager)|vermisste[nr]? (?:kind|person|mädchen|junge|seniorin|senior)|wird (?:seit \w+ )?vermisst/,
  /(?:burglar|intruder|smoke|fire|co|carbon monoxide) alarm|einbruchalarm|rauchmelder|brandmelder|alarm (?:was |wurde |hat )?(?:triggered|ausgelöst)/,
  /gefahrenmitteilung|gefahreninformation|gefahrenlage|extreme gefahr/,
  /tornado warning|flood warning|amber warning|yellow warning|red warning|weather warning/,
  /hochwasserzentrale|meldestufe|abkochgebot/,
  /\b(?:warnung|notfallwarnung|entwarnung|unwetter|gewitter|hagel|orkan|sturmflut|tsunami|chemieunfall|stromausfall|trinkwasserversorgung)\b/,
  /\b(?:flood|weather|storm|snow|wind|tsunami|amber|extreme|severe|emergency|presidential|civil|public safety|yellow|red)\s+(?:alert|warning)s?\b/,
  /\bwarning (?:of|for)\b/,
  /major incident|take shelter|danger to life|wildfire/,
  /shelter in place|armed incident|active shooter|\blockdown\b|bombenfund|gefahrstoff/,
];

const SHORTENERS = /\b(?:bit\.ly|tinyurl\.com|t\.co|is\.gd|cutt\.ly|rb\.gy|shorturl\.at|wa\.me)\b/;
const BAD_TLD =
  /\.(?:top|xyz|info|click|icu|live|buzz|cyou|rest|sbs|shop|online|site|vip)(?:\/|$|\s)/;
const LOOKALIKE =
  /(?:paket|sendung|zoll|customs|verify|verifizieren|sicher|secure|account|track|redeliver|fee|pay|login|status|konto|update|refund|termin|help|billing|support|service|online|voicemail|abruf|entsperr|unlock)/;
/** Brands whose real domains carry no hyphen: a hyphenated domain with one of them is a look-alike. */
const BRANDS =
  /(?:dhl|hermes|dpd|ups|gls|fedex|royalmail|evri|usps|post|paypal|sparkasse|volksbank|vr|hsbc|barclays|lloyds|netflix|amazon|apple|google|microsoft|ebay|klarna|n26|ing|dkb|commerzbank|postbank)/;

/** Links in the text and whether any points to a look-alike or shortened address. */
function suspiciousLink(lower: string): boolean {
  for (const m of lower.matchAll(/(?:https?:\/\/)?((?:[a-z0-9-]+\.)+[a-z]{2,})(\/\S*)?/g)) {
    const host = m[1];
    if (!/[a-z]/.test(host.replace(/\.[a-z]+$/, ""))) continue;
    if (SHORTENERS.test(host + (m[2] ?? ""))) return true;
    if (BAD_TLD.test(host + "/")) return true;
    const name = host.split(".").slice(0, -1).join(".");
    if (name.includes("-") && (LOOKALIKE.test(name) || BRANDS.test(name))) return true;
  }
  return false;
}

const SCAM = [
  /\b(?:hallo|hi|hey)\s+(?:mama|papa|mum|mom|dad|mami|papi)\b.*\b(?:neue nummer|new number|handy|phone)\b/s,
  /\b(?:mama|papa|mum|mom|dad|mami|papi)\b.{0,80}\b(?:neue nummer|new number)\b/s,
  /\b(?:neue nummer|new number)\b.{0,80}\bwhatsapp\b/s,
  /\b(?:mama|papa|mum|mom|dad|mami|papi)\b.{0,100}\b(?:handy|phone|nummer|number)\b.{0,80}\b(?:whatsapp|hilfe|help|dringend|urgent|geld|money|überweis\w*)\b/s,
  /\b(?:part[- ]time|remote|home ?office|nebenjob|heimarbeit)\b.{0,40}\b(?:job|arbeit|work)\b/s,
  /(?:\$|€|£)\s?\d{2,5}\s*(?:\/|per|pro|a|am)\s*(?:day|tag|hour|stunde)\b|\b\d{2,5}\s?(?:eur|euro|usd|dollar)\s*(?:\/|per|pro|am)\s*(?:day|tag)\b/,
  /\b(?:claim your prize|free cruise|you have been selected|sie wurden ausgewählt|ihre nummer wurde gezogen)\b/,
  /\b(?:ich habe|i have|this is my|das ist meine)\b.*\b(?:neue nummer|new number)\b.*\b(?:whatsapp|helfen|help|rechnung|bezahlen)\b/s,
  /\b(?:gewonnen|you(?:'ve| have)? won|glückwunsch|congratulations)\b/,
  /\b(?:verdienen sie|earn)\s+\$?\d+/,
  /\bpart[- ]time job\b|\brecruiter\b/,
  /\bbitcoin\b|\bcrypto\b.*\b(?:turn|verdopp)/,
  /\b(?:steuerrückerstattung|tax refund)\b/,
  // Loans and compensation nobody asked for.
  /kredit ohne schufa|sofortkredit|sofortauszahlung|pre-?approved loan|payday loan|loan (?:approved|offer)/,
  /\bunclaimed\b|\bppi\b|reply claim|\bclaim (?:it|now|today)\b|entschädigung.{0,40}\b(?:anspruch|auszahl)/,
];

const MARKETING = [
  /\d+\s?%/,
  /\brabatt|gutschein|coupon|angebot|deal\b|\bsale\b|black week|black friday|cyber monday|gratis|\bfree\b|bonus|spins|upgrade/,
  /\b\d\s?(?:für|for)\s?\d\b|buy one,? get one|\bbogof\b|diese woche|this week only|in der app aktivieren|jetzt (?:einlösen|aktivieren)/,
  /\bstop\b.*\b(?:an|to)\s+\d{4,6}|\b(?:abmelden|abmeldung|opt out|unsubscribe|txt stop|text stop|reply stop|antworte stop)\b/,
  /\bnur (?:heute|bis|noch)|\bonly\b|\btonight only|this weekend/,
  /jetzt (?:mitglied|upgraden|shoppen|sichern)|order at|shop now|jetzt shoppen/,
];

const DELIVERY_WORDS =
  /\b(?:arriving|arrives|track at|lieferung|geliefert|zusteller|stopps? entfernt|stops? away|driver|sendung|sendungsnummer|paket|pakets|paketnummer|zugestellt|zustellung|zustellversuch|zustellen|packstation|paketshop|filiale|abholung|abholbereit|einschreiben|versandt|verschickt|unterwegs|parcel|package|shipment|shipped|delivered|delivery|out for delivery|tracking|left at|safe place|access point|zollabfertigung|zielland)\b/;

const APPT_WORDS =
  /termin|erinnerung|reminder|gespräch|besprechung|wartung|monteur|techniker|sprechtag|\b(?:visit|slot|session)\b|elternabend|versammlung|sitzung|\b(?:meeting|webinar|interview|abholen am|pick up on|collect (?:it|your \w+) on)\b|\b(?:confirm(?:ed|ing)?|bestätigt|eingeplant|gebucht|booked|scheduled|vereinbart|untersuchung|vorsorge|check-up|gespräch|besuch|wir freuen uns auf|see you|zahnreinigung|termins|terminbestätigung|kontrolltermin|impftermin|werkstatttermin|inspektionstermin|mrt-termin|beratungsgespräch|behandlung|sprechstunde|einladung|praxis|appointment|appt|booked|booking|reminder|erinnerung|see you on|wir freuen uns auf dich|visa appointment|mot)\b|\b(?:eye|hearing|driving|blood) test\b|\b(?:test centre|vaccination|jab|haircut|consultation|hausbesuch|ablesung|ableser|zählerablesung|schornsteinfeger|feuerstättenschau|kehrtermin|sehtest|hörtest|blutabnahme|impfung)\b/;

const INFORMAL =
  /\b(?:du|dich|dir|ich|mir|mich|hab|bin|komm|kommst|schatz|haha|lol|xx|sorry|danke|mum|mama|oma|opa|i'm|i'll|i've|me|my|we're|love you|omg|ok|okay)\b|[\u{1F300}-\u{1FAFF}\u2764]/u;

/** A security scare: what fraud from a phone number says when it poses as a brand. */
const IMPERSONATION =
  /\b(?:suspicious|unusual|unauthori[sz]ed|fraudulent)\s+(?:purchase|transaction|payment|activity|login|sign-?in|order)|\bverdächtige\w*\s+(?:zahlung|bestellung|anmeldung|aktivität|transaktion)|\bungewöhnliche\w*\s+(?:zahlung|anmeldung|aktivität)|(?:wasn't|was not|weren't) you\b.{0,40}\bcall\b|\bnicht sie\?.{0,40}\b(?:rufen|anrufen)\b/;

/** True for a phone-number sender (personal messages come from numbers; services from names). */
function isNumberSender(from: string): boolean {
  return /^\+?\d{9,15}$/.test(from.replace(/[\s-]/g, ""));
}

/** German or English, by function-word counts. */
export function detectLang(text: string): "de" | "en" {
  const t = ` ${text.toLowerCase()} `;
  const de = (t.match(
    /\b(?:der|die|das|und|ist|ihr|ihre|sie|dein|nicht|für|mit|bei|wird|wurde|am|um|uhr|bitte|heute|zu|von|ein|eine|auf|den|dem|lautet)\b/g,
  ) ??
    []).length;
  const en = (t.match(
    /\b(?:the|and|is|your|you|not|for|with|at|will|was|on|please|today|to|of|a|an|this|it|code|be)\b/g,
  ) ?? [])
    .length;
  return de >= en ? "de" : "en";
}

function isoDay(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Classifies one message and extracts its class's fields. */
export function classify(input: SmsInput): Classification {
  const text = input.text;
  const from = input.from ?? "";
  const received = input.received ?? new Date();
  const lower = text.toLowerCase();
  const lang = detectLang(text);
  const done = (cls: SmsClass, rule: string, extracted: Extraction = {}): Classification => ({
    cls,
    code: CLASS_CODE[cls],
    rule,
    extracted,
    lang,
  });

  // A look-alike link first: phishing dresses up as anything, official warnings included.
  if (suspiciousLink(lower)) return done("spam", "phishing-link");
  const alertHits = ALERT.filter((re) => re.test(lower)).length;
  if (alertHits >= 1 && !/\b(?:rabatt|sale|deal)\b/.test(lower)) {
    return done("alert", `alert:${alertHits}`);
  }
  if (SCAM.some((re) => re.test(lower))) return done("spam", "scam-phrase");

  const numberSender = isNumberSender(from);
  const informal = INFORMAL.test(lower) && !/\b(?:ihr|ihre|ihren|your)\b/.test(lower);
  const code = extractCode(text);
  const pickup = /abholcode|packstation|paketshop|pick-?up code|collection code|\blocker\b/.test(
    lower,
  );
  // A private person writing informally: parcel numbers and dates in it are shared, not notices.
  const personalVoice = numberSender && informal;
  const tanWords = hasTanKeyword(text) || (VERIFY_WORDS.test(lower) && !informal);
  if (code !== undefined && tanWords && !pickup && !(numberSender && informal)) {
    return done("tan", "code+keyword", { code, validitySec: extractValidity(text, received) });
  }

  const delivery = extractDelivery(text, from);
  const carrierInText = CARRIERS.some((c) => c.re.test(text)) ||
    (delivery.tracking !== null && delivery.carrier !== null);
  const carrierSender = CARRIERS.some((c) => c.re.test(from));
  if (
    DELIVERY_WORDS.test(lower) && !personalVoice &&
    (carrierInText || (carrierSender && !numberSender))
  ) {
    return done("delivery", "carrier+words", delivery);
  }

  const date = extractDate(text, received);
  const time = extractTime(text);
  if (!personalVoice && APPT_WORDS.test(lower) && date !== undefined && time !== undefined) {
    return done("appointment", "words+date+time", { date, time });
  }

  const mk = MARKETING.filter((re) => re.test(lower)).length;
  if (mk >= 2) return done("spam", `marketing:${mk}`);

  // A named service stating a future day and a clock time, with no other class's evidence, is
  // announcing when something happens to the reader: an appointment whatever it is called.
  if (
    !numberSender && !informal && date !== undefined && time !== undefined && mk === 0 &&
    date >= isoDay(received) && !/\b(?:bis|until|by|till)\s+(?:\w+\s+)?\d/.test(lower)
  ) {
    return done("appointment", "date+time", { date, time });
  }

  // A brand's security scare from a phone number ("Amazon: suspicious purchase ... call 1-888 ..."):
  // services send from their name, fraud from SIM farms.
  if (numberSender && !informal && IMPERSONATION.test(lower)) return done("spam", "impersonation");
  if (numberSender || informal) {
    return done("personal", numberSender ? "number-sender" : "informal");
  }
  return done("unknown", "fallback");
}
