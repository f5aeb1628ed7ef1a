/**
 * Message templates of the SMS corpus (German and English), written after
 * real-world phrasing of banks, payment providers, 2FA services, parcel
 * carriers, practices and authorities, warning services, marketing, phishing
 * and people. `corpus_gen.ts` fills the slots with seeded random values and
 * writes `corpus.jsonl`; the expected extraction follows from the slots.
 *
 * Slots: {CODE4..8} digits, {CODE3-3} "123-456", {CODE3s3} "123 456",
 * {CODEA6} letters+digits, {MIN} validity minutes, {UNTIL} absolute expiry
 * time, {AMT} "1.250,00", {AMTEN} "45.00", {IBAN4} last 4 digits, {PHONE},
 * {MOBILE}, {NAME}, {FIRST}, {DR}, {DATE} "23.11.2026", {DATES} "23.11.",
 * {DATEL} "23. November 2026", {DATEEN} "23 November 2026", {DATEUS}
 * "November 23", {DATEUK} "23/11/2026", {DATEISO}, {DAYDE} / {DAYEN} (the
 * weekday of that date), {TIME} "09:30", {TIMEDOT} "9.30", {TIMEEN} "9:30am",
 * {HOUR} "9" (full hour), {TRK_*} tracking numbers, {PURL} phishing link,
 * {ORDER} order number, {KM}, {N2} small number.
 *
 * @module
 */

/** The seven classes of draft §6.4.2. */
export type SmsLabel =
  | "tan"
  | "delivery"
  | "appointment"
  | "spam"
  | "alert"
  | "personal"
  | "unknown";

/** One template. */
export interface Template {
  /** Class of every message made from it. */
  readonly label: SmsLabel;
  /** Language. */
  readonly lang: "de" | "en";
  /** Sender choices (alphanumeric sender ids, short codes, numbers; {MOBILE} allowed). */
  readonly from: readonly string[];
  /** Text with slots. */
  readonly t: string;
  /** How many messages to make from it (default 3). */
  readonly n?: number;
  /** Delivery: the carrier. */
  readonly carrier?: string;
  /** TAN: validity in seconds stated in fixed words (e.g. "1 Stunde"). */
  readonly validSec?: number;
  /** Appointment: the date is relative to the received day ("+1" = tomorrow, "+0" = today). */
  readonly rel?: string;
  /** Appointment: fixed time when the text says it without a {TIME} slot (e.g. "9 Uhr" via {HOUR}). */
  readonly note?: string;
}

const MOB = ["{MOBILE}"];

/** All templates. */
export const TEMPLATES: readonly Template[] = [
  // ---------------------------------------------------------------- TAN / OTP (de)
  {
    label: "tan",
    lang: "de",
    from: ["Sparkasse", "S-Bank"],
    t: "Sparkasse: Ihre TAN für die Überweisung von {AMT} EUR an IBAN DE**{IBAN4} lautet {CODE6}. Gültig bis {UNTIL} Uhr.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Sparkasse"],
    t: "Ihre smsTAN: {CODE6} für Auftrag Dauerauftrag anlegen, Betrag {AMT} EUR. Geben Sie diese TAN niemals telefonisch weiter!",
  },
  {
    label: "tan",
    lang: "de",
    from: ["DKB"],
    t: "Ihre DKB-TAN lautet {CODE6}. Sie ist {MIN} Minuten gültig. Die DKB fragt Sie niemals am Telefon nach einer TAN.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["DKB", "DKB-Bank"],
    t: "DKB: Anmeldung im Banking am {DATE} - Ihr Bestätigungscode: {CODE6}",
  },
  {
    label: "tan",
    lang: "de",
    from: ["comdirect"],
    t: "comdirect mobileTAN {CODE6} für Wertpapierorder über {AMT} EUR. Nicht Sie? Sperr-Hotline 069 5008 9990",
  },
  {
    label: "tan",
    lang: "de",
    from: ["ING", "ING-DiBa"],
    t: "ING: Ihr Freigabe-Code lautet {CODE6}. Er ist {MIN} Minuten gültig. Wir rufen Sie niemals an, um diesen Code zu erfragen.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Volksbank", "VR-Bank"],
    t: "VR-SecureGo: TAN {CODE6} für SEPA-Überweisung an {NAME}, Betrag {AMT} EUR, IBAN ...{IBAN4}.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Postbank"],
    t: "Postbank mTAN: {CODE6} - Empfänger-IBAN endet auf {IBAN4}, Betrag {AMT} EUR. Bitte prüfen Sie die Daten vor Eingabe.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["N26"],
    t: "Dein N26 Bestätigungscode lautet {CODE6}. Teile diesen Code mit niemandem, auch nicht mit N26-Mitarbeitern.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["PayPal"],
    t: "PayPal: Ihr Sicherheitscode lautet {CODE6}. Ihr Code läuft in {MIN} Minuten ab. Geben Sie Ihren Code nicht weiter.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["PayPal"],
    t: "PayPal: {CODE6} ist Ihr Sicherheitscode. Teilen Sie den Code nicht.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Amazon"],
    t: "{CODE6} ist Ihr Amazon-Einmalpasswort. Teilen Sie es nicht mit anderen.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Klarna"],
    t: "Dein Klarna-Bestätigungscode lautet: {CODE6}. Gib diesen Code niemals weiter.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Google", "22000"],
    t: "G-{CODE6} ist dein Bestätigungscode für Google.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Microsoft"],
    t: "Verwenden Sie den Code {CODE6} für die Überprüfung Ihres Microsoft-Kontos.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["WhatsApp", "+4915888000123"],
    t: "Dein WhatsApp-Code: {CODE3-3}\nTeile diesen Code mit niemandem.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Apple"],
    t: "Dein Apple-Account-Code lautet: {CODE6}. Gib ihn nicht weiter. @apple.com #{CODE6}",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Telekom"],
    t: "Ihr Telekom Login Code: {CODE6}. Der Code ist {MIN} Minuten gültig.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Vodafone"],
    t: "Dein MeinVodafone-Code ist {CODE4}. Wir fragen Dich nie nach diesem Code.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["o2"],
    t: "Ihr o2 Einmal-Passwort: {CODE6} (gültig für {MIN} Min.)",
  },
  {
    label: "tan",
    lang: "de",
    from: ["eBay"],
    t: "eBay: Ihr Sicherheitscode lautet {CODE6}. Geben Sie ihn nicht weiter.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Kleinanz"],
    t: "Dein Bestätigungscode für Kleinanzeigen: {CODE4}",
  },
  {
    label: "tan",
    lang: "de",
    from: ["DB", "DB Bahn"],
    t: "Ihr Bestätigungscode für bahn.de lautet {CODE6}. Gültig für {MIN} Minuten.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Lieferando"],
    t: "Lieferando: Dein Code zur Anmeldung lautet {CODE4}.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Commerzbank"],
    t: "Commerzbank: Zur Freigabe Ihrer Kartenzahlung über {AMT} EUR bei ONLINESHOP geben Sie bitte den Code {CODE6} ein. Gültig {MIN} Minuten.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Mastercard", "VISA"],
    t: "Mastercard ID Check: Ihr Code {CODE6} für Zahlung {AMT} EUR bei AMAZON EU. Niemals weitergeben.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["TradeRep", "Trade Rep"],
    t: "Trade Republic: Dein Verifizierungscode ist {CODE4}. Gültig für {MIN} Minuten.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Revolut"],
    t: "Revolut-Code: {CODE3-3}. Gib diesen Code nicht weiter, auch nicht an Revolut-Mitarbeiter.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Steam"],
    t: "Steam Guard: Ihr Zugangscode lautet {CODEA5}",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Santander"],
    t: "Santander: {CODE8} ist Ihre TAN zur Änderung Ihrer Telefonnummer. Gültig bis {UNTIL}.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["ELSTER", "Finanzamt"],
    t: "Ihr ELSTER-Sicherheitscode lautet {CODE6}. Er ist 1 Stunde gültig.",
    validSec: 3600,
  },
  {
    label: "tan",
    lang: "de",
    from: ["AOK"],
    t: "AOK Mein Leben: Ihr Anmeldecode {CODE6} - gültig {MIN} Minuten. Haben Sie sich nicht angemeldet? Hotline 0800 1265 265",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Check24"],
    t: "Ihr CHECK24 Code: {CODE5}",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Zalando"],
    t: "{CODE6} ist dein Zalando-Verifizierungscode. Er läuft in {MIN} Minuten ab.",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Barclays"],
    t: "Barclays: mTAN {CODE6} für Online-Kauf {AMT} EUR am {DATE}. Bei Fragen: 040 890 99 877",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Vinted"],
    t: "Vinted: Dein Bestätigungscode ist {CODE4}. Teile ihn mit niemandem.",
  },
  {
    label: "tan",
    lang: "de",
    from: MOB,
    t: "Ihr Anmeldecode: {CODE6}",
  },
  {
    label: "tan",
    lang: "de",
    from: ["Hanseatic", "HanseaticBk"],
    t: "Hanseatic Bank: Bitte bestätigen Sie die Zahlung über {AMT} EUR mit der TAN {CODE6}. Falls Sie diese Zahlung nicht veranlasst haben, rufen Sie uns unter 040 646 03 0 an.",
  },
  // ---------------------------------------------------------------- TAN / OTP (en)
  {
    label: "tan",
    lang: "en",
    from: ["Google", "22000"],
    t: "G-{CODE6} is your Google verification code.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Microsoft"],
    t: "Use {CODE4} as Microsoft account security code",
  },
  {
    label: "tan",
    lang: "en",
    from: ["WhatsApp"],
    t: "Your WhatsApp code: {CODE3-3}\nDon't share this code with others",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Apple"],
    t: "Your Apple Account code is: {CODE6}. Don't share it with anyone.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Instagram", "32665"],
    t: "{CODE3s3} is your Instagram code. Don't share it.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Facebook", "FACEBOOK"],
    t: "{CODE8} is your Facebook confirmation code",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Telegram"],
    t: "Telegram code: {CODE5}\n\nYou can also tap on this link to log in:\nhttps://t.me/login/{CODE5}",
  },
  {
    label: "tan",
    lang: "en",
    from: ["PayPal"],
    t: "PayPal: Your security code is {CODE6}. Your code expires in {MIN} minutes. Please don't reply.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Amazon"],
    t: "{CODE6} is your Amazon OTP. Do not share it with anyone.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Uber"],
    t: "Your Uber code is {CODE4}. Never share this code. Reply STOP ALL to +44 7123 456789 to unsubscribe.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Discord"],
    t: "Your Discord security code is: {CODE6}",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Twitter", "X"],
    t: "{CODE6} is your X verification code.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["TikTok"],
    t: "[TikTok] {CODE6} is your verification code, valid for {MIN} minutes. To keep your account safe, never forward this code.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Binance"],
    t: "[Binance] Your verification code is {CODE6}. It will expire in {MIN} minutes. Don't share this code with anyone.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Coinbase"],
    t: "Your Coinbase verification code is: {CODE7}. Don't share this code with anyone; our employees will never ask for the code.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Revolut"],
    t: "Revolut code: {CODE3-3}. Never share this code, not even with Revolut staff.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Barclays"],
    t: "Barclays: Your one-time passcode for a payment of GBP {AMTEN} to AMAZON.CO.UK is {CODE6}. If you didn't request this, call 0345 734 5345.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["HSBC"],
    t: "HSBC: {CODE6} is your OTP for the online purchase of GBP {AMTEN} at {SHOPEN} on {DATEUK}. Valid for {MIN} mins. Never share it.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Monzo"],
    t: "Monzo: Your login code is {CODE6}. We'll never call you to ask for it.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["LinkedIn"],
    t: "Your LinkedIn verification code is {CODE6}.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Steam"],
    t: "Your Steam Guard code is {CODEA5}",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Signal"],
    t: "Your Signal registration code: {CODE3-3}\n\ndoNotShare",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Okta", "MFA"],
    t: "Your verification code is {CODE6}. This code expires at {UNTIL}.",
  },
  {
    label: "tan",
    lang: "en",
    from: MOB,
    t: "Your one-time password is {CODE6}",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Airbnb"],
    t: "Your Airbnb verification code is: {CODE6}. Don't share this code with anyone; our employees will never ask for the code.",
  },
  {
    label: "tan",
    lang: "en",
    from: ["Wise"],
    t: "Wise: {CODE6} is your code to confirm a transfer of {AMTEN} EUR. Expires in {MIN} minutes. Don't share it.",
  },
  // ---------------------------------------------------------------- delivery (de)
  {
    label: "delivery",
    lang: "de",
    from: ["DHL"],
    carrier: "dhl",
    t: "Ihr DHL Paket kommt heute zwischen {TIME} und {TIME2} Uhr. Sendungsnummer: {TRK_DHL}. Live verfolgen: dhl.de/live",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DHL"],
    carrier: "dhl",
    t: "DHL: Ihre Sendung {TRK_DHL} wurde in die Packstation 123 gelegt. Abholcode: {CODE6}. Abholung bis {DATES} möglich.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DHL"],
    carrier: "dhl",
    t: "Ihre Sendung {TRK_DHL} wurde bei Ihrem Nachbarn {NAME} abgegeben.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DHL"],
    carrier: "dhl",
    t: "DHL: Ihr Paket von {SHOP} ist unterwegs und kommt voraussichtlich am {DAYDE}, {DATES}. Sendungsnummer {TRK_DHL}",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DHL"],
    carrier: "dhl",
    t: "Guten Tag, Ihre Sendung {TRK_JJD} liegt ab sofort in Ihrer Filiale zur Abholung bereit. Bitte Ausweis mitbringen. Ihr DHL Team",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Hermes"],
    carrier: "hermes",
    t: "Hermes: Ihre Sendung {TRK_HERMES} wird heute zugestellt. Voraussichtliches Zeitfenster: {TIME} - {TIME2} Uhr.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Hermes"],
    carrier: "hermes",
    t: "Ihre Hermes Sendung {TRK_HERMES} von {SHOP} wurde im PaketShop abgegeben und kann dort 7 Tage abgeholt werden.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DPD"],
    carrier: "dpd",
    t: "DPD: Ihr Paket {TRK_DPD} kommt heute zwischen {TIME} und {TIME2}. Predict: dpd.de/predict",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DPD"],
    carrier: "dpd",
    t: "Hallo, Ihr DPD Paket {TRK_DPD} von {SHOP} wurde zugestellt. Abstellort: Garage.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["UPS"],
    carrier: "ups",
    t: "UPS: Ihre Sendung {TRK_UPS} wird voraussichtlich am {DATES} zugestellt. Lieferung ändern: ups.com/mcdp",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["UPS"],
    carrier: "ups",
    t: "UPS-Zustellhinweis: Paket {TRK_UPS} wurde an einem UPS Access Point hinterlegt. Abholung bis {DATES}.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["GLS"],
    carrier: "gls",
    t: "GLS: Ihr Paket {TRK_GLS} wird heute zwischen {TIME} und {TIME2} Uhr zugestellt.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Amazon"],
    carrier: "amazon",
    t: 'Amazon: Ihr Paket mit "{ITEM}" wird heute zugestellt. Verfolgen: amzn.eu/d/{CODEA6}',
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Amazon"],
    carrier: "amazon",
    t: "Zugestellt: Ihr Amazon-Paket {TRK_AMZ} wurde an der Haustür abgestellt.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Dt.Post", "Post"],
    carrier: "deutsche-post",
    t: "Deutsche Post: Ihr Einschreiben {TRK_POST} konnte nicht zugestellt werden und liegt in der Filiale bis {DATES} zur Abholung.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Otto", "OTTO"],
    carrier: "hermes",
    t: "OTTO: Ihre Bestellung {ORDER} wurde versandt! Sendungsnummer {TRK_HERMES} (Hermes).",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["Zalando"],
    carrier: "dhl",
    t: "Zalando: Gute Nachrichten! Dein Paket ist unterwegs mit DHL. Sendungsnummer: {TRK_DHL}",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DPD"],
    carrier: "dpd",
    t: "DPD: Leider konnten wir Ihr Paket {TRK_DPD} heute nicht zustellen. Neuer Zustellversuch am nächsten Werktag.",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["MediaMarkt"],
    carrier: "dpd",
    t: "MediaMarkt: Ihre Lieferung kommt am {DATES} zwischen {TIME} und {TIME2} Uhr mit DPD. Paketnummer {TRK_DPD}",
  },
  {
    label: "delivery",
    lang: "de",
    from: ["DHL"],
    carrier: "dhl",
    t: "DHL Express: Ihre Sendung {TRK_DHLX} ist im Zielland angekommen. Zollabfertigung abgeschlossen, Zustellung morgen.",
  },
  // ---------------------------------------------------------------- delivery (en)
  {
    label: "delivery",
    lang: "en",
    from: ["DPD", "DPDLocal"],
    carrier: "dpd",
    t: "DPD: Your parcel {TRK_DPD} will be delivered today between {TIME} - {TIME2}. Track: dpd.co.uk",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["UPS"],
    carrier: "ups",
    t: "UPS: Your package {TRK_UPS} is scheduled for delivery on {DATEUS}. Manage delivery at ups.com",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["Evri"],
    carrier: "hermes",
    t: "Evri: Your parcel from {SHOPEN} is on its way, tracking {TRK_HERMES}. Delivery expected today.",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["Amazon"],
    carrier: "amazon",
    t: 'Amazon: Your package with "{ITEMEN}" was delivered. It was left at your front door.',
  },
  {
    label: "delivery",
    lang: "en",
    from: ["Amazon"],
    carrier: "amazon",
    t: "Your Amazon order {ORDER} has shipped. Tracking ID {TRK_AMZ}, arriving tomorrow.",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["FedEx"],
    carrier: "fedex",
    t: "FedEx: Shipment {TRK_FEDEX} is out for delivery today. Signature required.",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["DHL"],
    carrier: "dhl",
    t: "DHL Express: Your shipment {TRK_DHLX} from {SHOPEN} is on its way and will be delivered on {DATEUS}.",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["RoyalMail"],
    carrier: "royal-mail",
    t: "Royal Mail: we've delivered your item {TRK_POSTGB} to a safe place.",
  },
  {
    label: "delivery",
    lang: "en",
    from: ["GLS"],
    carrier: "gls",
    t: "GLS: Parcel {TRK_GLS} could not be delivered. It is waiting for you at the GLS ParcelShop until {DATEUS}.",
  },
  // ---------------------------------------------------------------- appointment (de)
  {
    label: "appointment",
    lang: "de",
    from: ["Doctolib"],
    t: "Erinnerung: Ihr Termin bei {DR} am {DAYDE}, {DATE} um {TIME} Uhr. Absage über doctolib.de",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Doctolib"],
    t: "Doctolib: Ihr Termin am {DATE} um {TIME} bei {DR} wurde bestätigt. Bitte bringen Sie Ihre Versichertenkarte mit.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["PraxisDr", "Praxis"],
    rel: "+1",
    t: "Praxis {DR}: Wir erinnern an Ihren Termin morgen um {TIME} Uhr. Falls Sie verhindert sind, sagen Sie bitte ab: {PHONE}",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Zahnarzt"],
    t: "Zahnarztpraxis Lächeln: Ihr Kontrolltermin ist am {DATES} um {TIMEDOT} Uhr. Bitte 10 Minuten früher kommen.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Buergeramt", "Berlin.de"],
    t: "Bürgeramt: Ihr Termin am {DATE} um {TIME} Uhr, Vorgangsnummer {N6}. Bitte Personalausweis und Unterlagen mitbringen.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["KFZ-Stelle", "Landkreis"],
    t: "Zulassungsstelle: Terminbestätigung für {DAYDE}, den {DATE}, {TIME} Uhr, Schalter 4. Buchungsnummer {N6}",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["ATU", "Werkstatt"],
    t: "A.T.U: Ihr Werkstatttermin (Reifenwechsel) am {DATE} um {TIME} Uhr in Filiale {CITY}. Änderungen: {PHONE}",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Friseur", "Salon"],
    t: "Hallo {FIRST}, wir freuen uns auf Dich am {DAYDE} {DATES} um {TIME} Uhr! Dein Team vom Salon Haarscharf",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Tierarzt"],
    t: "Tierarztpraxis Am Park: Impftermin für Bello am {DATEL} um {TIME} Uhr. Bitte Impfpass mitbringen.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Radiologie", "MVZ"],
    t: "MVZ Radiologie: Ihr MRT-Termin ist am {DATE}, {TIME} Uhr. Bitte nüchtern erscheinen. Tel. {PHONE}",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Doctolib"],
    t: "Ihr Termin bei {DR} wurde auf {DAYDE}, {DATE} um {TIME} Uhr verschoben. Passt das nicht? doctolib.de",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Physio"],
    rel: "+1",
    t: "Physiotherapie Bewegt: Erinnerung an Ihre Behandlung morgen, {TIME} Uhr. Bitte Handtuch mitbringen.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Jobcenter"],
    t: "Jobcenter: Einladung zum Beratungsgespräch am {DATE} um {TIME} Uhr, Raum 2.14. Bei Verhinderung bitte melden.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Impfzentr", "Gesundheit"],
    t: "Impfzentrum {CITY}: Ihr Termin ist am {DATES} um {TIME}. Bitte Impfausweis und Ausweis mitbringen.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Hausarzt", "Praxis"],
    rel: "+0",
    t: "Praxis {DR}: Erinnerung an Ihren Termin heute um {TIME} Uhr.",
  },
  {
    label: "appointment",
    lang: "de",
    from: ["Autohaus"],
    t: "Autohaus Müller: Ihr Inspektionstermin ist am {DATEL}, {HOUR} Uhr. Ersatzwagen ist reserviert.",
  },
  // ---------------------------------------------------------------- appointment (en)
  {
    label: "appointment",
    lang: "en",
    from: ["NHS", "GPSurgery"],
    t: "Your appointment at {CITYEN} Medical Centre is on {DAYEN} {DATEEN} at {TIME}. Reply CANCEL if you cannot attend.",
  },
  {
    label: "appointment",
    lang: "en",
    from: ["Dentist"],
    t: "Reminder: your appointment with {DREN} on {DATEUK} at {TIMEEN}. Reply C to cancel.",
  },
  {
    label: "appointment",
    lang: "en",
    from: ["Doctolib"],
    t: "Reminder: appointment with {DREN} on {DAYEN}, {DATEUS} at {TIMEEN}. Manage it on doctolib.",
  },
  {
    label: "appointment",
    lang: "en",
    from: ["Clinic"],
    rel: "+1",
    t: "Hi {FIRSTEN}, this is a reminder of your appointment tomorrow at {TIMEEN} with {DREN}. Call {PHONEEN} to reschedule.",
  },
  {
    label: "appointment",
    lang: "en",
    from: ["Halfords", "Garage"],
    t: "Your MOT is booked for {DATEEN} at {TIME} at our {CITYEN} branch. Booking ref {N6}.",
  },
  {
    label: "appointment",
    lang: "en",
    from: ["Barber"],
    t: "See you on {DAYEN} {DATEEN} at {TIMEEN} at Sharp Cuts! Need to change? Reply to this message.",
  },
  {
    label: "appointment",
    lang: "en",
    from: ["Consulate", "Embassy"],
    t: "Visa appointment confirmed: {DATEISO} {TIME}, counter B. Bring your passport and this reference: {N6}.",
  },
  // ---------------------------------------------------------------- alert (de)
  {
    label: "alert",
    lang: "de",
    from: ["DWD", "WarnWetter"],
    t: "DWD: Amtliche UNWETTERWARNUNG vor ORKANBÖEN für Kreis {CITY}, gültig von {DAYDE2} {DATES} {TIME} bis {DATES2} {TIME2} Uhr.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["DWD"],
    t: "Amtliche WARNUNG vor GLÄTTE für Stadt {CITY}. Gefahr durch überfrierende Nässe bis Samstag 10:00 Uhr.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["DWD"],
    t: "DWD Warnung: STARKREGEN mit Niederschlagsmengen bis 40 l/qm in {CITY}. Keller und Tiefgaragen meiden.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["NINA"],
    t: "NINA: Gefahrenmitteilung - Großbrand in {CITY}. Starke Rauchentwicklung. Fenster und Türen geschlossen halten, Lüftung ausschalten.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["KATWARN"],
    t: "KATWARN: Evakuierung in {CITY}-Mitte wegen Entschärfung einer Weltkriegsbombe am {DATES} ab {TIME} Uhr. Sperrkreis 500 m.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["EU-ALERT", "Warnung"],
    t: "EU-ALERT DE: Extreme Gefahr. Hochwasser an der {RIVER}. Begeben Sie sich in höhere Stockwerke. Infos: warnung.bund.de",
  },
  {
    label: "alert",
    lang: "de",
    from: ["Warnung"],
    t: "Probewarnung: Dies ist ein Test im Rahmen des bundesweiten Warntags. Es besteht keine Gefahr.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["Stadtwerke"],
    t: "Stadtwerke {CITY}: Abkochgebot für Trinkwasser im Ortsteil Nord wegen Keimbelastung. Wasser vor Gebrauch abkochen.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["NINA", "Polizei"],
    t: "Polizei {CITY}: Gefahrenlage am Hauptbahnhof. Bereich weiträumig meiden und Anweisungen der Einsatzkräfte folgen.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["DWD"],
    t: "Hitzewarnung des DWD für {CITY}: Extreme Hitze bis 38 Grad. Viel trinken, Mittagssonne meiden.",
  },
  {
    label: "alert",
    lang: "de",
    from: ["LHP", "Hochwasser"],
    t: "Hochwasserzentrale: Meldestufe 3 am Pegel {CITY} erreicht. Weitere Anstiege erwartet.",
  },
  // ---------------------------------------------------------------- alert (en)
  {
    label: "alert",
    lang: "en",
    from: ["EmergAlert", "UK Gov"],
    t: "Emergency Alert: Severe flood warning for {CITYEN}. Danger to life. Move to higher ground now. gov.uk/alerts",
  },
  {
    label: "alert",
    lang: "en",
    from: ["MetOffice"],
    t: "Met Office: Amber warning for wind in {CITYEN} from {TIME} {DAYEN}. Gusts of 70-80 mph likely. Stay indoors.",
  },
  {
    label: "alert",
    lang: "en",
    from: ["WEA", "Alert"],
    t: "Presidential Alert: THIS IS A TEST of the National Wireless Emergency Alert System. No action is needed.",
  },
  {
    label: "alert",
    lang: "en",
    from: ["NWS", "WEA"],
    t: "NWS: Tornado Warning in this area until {TIMEEN}. Take shelter now in a basement or interior room.",
  },
  {
    label: "alert",
    lang: "en",
    from: ["Police"],
    t: "Police: Major incident in {CITYEN} city centre. Avoid the area and follow instructions from emergency services.",
  },
  {
    label: "alert",
    lang: "en",
    from: ["EU-ALERT"],
    t: "EU-Alert: Wildfire near {CITYEN}. Evacuate immediately towards the coast. Follow police instructions.",
  },
  // ---------------------------------------------------------------- spam: phishing imitating carriers
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "+447{N9}", "DHL"],
    t: "DHL: Ihr Paket konnte nicht zugestellt werden. Bitte bestätigen Sie Ihre Adresse: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Ihr Paket wartet! Zollgebühr von 1,99 EUR ausstehend. Jetzt bezahlen: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "Hermes"],
    t: "Hermes: Ihre Sendung wurde zurückgehalten. Aktualisieren Sie Ihre Lieferdaten innerhalb von 24 Std: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Sie haben ein Paket. Verfolgen Sie die Sendung hier: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "DPD"],
    t: "DPD: Zustellversuch fehlgeschlagen. Vereinbaren Sie einen neuen Termin unter {PURL} sonst geht Ihr Paket zurück.",
  },
  {
    label: "spam",
    lang: "en",
    from: ["{MOBILE}", "+1{N10}", "USPS"],
    t: "USPS: Your package is on hold due to an incomplete address. Please update within 12 hours: {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: ["{MOBILE}", "RoyalMail"],
    t: "Royal Mail: Your parcel has a £1.45 shipping fee to pay. Pay now to avoid return: {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: ["{MOBILE}", "Evri"],
    t: "Evri: We missed you today. Your parcel {N10} is waiting. Reschedule at {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "DHL"],
    t: "Ihre Sendung {TRK_DHL} ist angekommen, kann aber wegen fehlender Hausnummer nicht zugestellt werden. Bitte aktualisieren: {PURL}",
  },
  // ---------------------------------------------------------------- spam: other phishing and scams
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "Sparkasse"],
    t: "Sparkasse: Ihr pushTAN-Verfahren läuft ab. Um eine Sperrung zu vermeiden, aktualisieren Sie jetzt: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Hallo Mama, mein Handy ist kaputt. Das ist meine neue Nummer. Kannst du mir bitte auf WhatsApp schreiben?",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Hallo Papa, ich habe eine neue Nummer, die alte kannst du löschen. Ich muss dringend eine Rechnung bezahlen, kannst du mir helfen?",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Sie haben eine neue Sprachnachricht erhalten. Anhören: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "Gewinn"],
    t: "Glückwunsch! Sie wurden ausgewählt und haben ein iPhone 16 gewonnen. Jetzt Gewinn sichern: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Ihr Konto wurde wegen verdächtiger Aktivitäten eingeschränkt. Bitte verifizieren Sie Ihre Daten: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Finanzamt: Sie haben Anspruch auf eine Steuerrückerstattung von {AMT} EUR. Antrag hier: {PURL}",
  },
  {
    label: "spam",
    lang: "de",
    from: MOB,
    t: "Verdienen Sie 500 EUR am Tag von zu Hause! Kein Risiko. Schreiben Sie uns auf WhatsApp: wa.me/{N11}",
  },
  {
    label: "spam",
    lang: "de",
    from: ["{MOBILE}", "Maut"],
    t: "Offene Mautgebühr von 4,90 EUR. Zahlen Sie bis heute, um eine Strafe von 50 EUR zu vermeiden: {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: MOB,
    t: "Hi Mum, I've dropped my phone down the toilet, this is my new number. Can you text me on WhatsApp?",
  },
  {
    label: "spam",
    lang: "en",
    from: ["{MOBILE}", "HMRC"],
    t: "HMRC: You are eligible for a tax refund of £{AMTEN}. Claim it here before it expires: {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: MOB,
    t: "Your bank account has been suspended due to unusual activity. Verify your identity now at {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: MOB,
    t: "Congratulations! You've won a $1000 Walmart gift card. Claim now: {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: MOB,
    t: "Hi, I'm Lisa, a recruiter. Part-time job, earn $300-800 per day, flexible hours. Contact us on WhatsApp +1{N10}",
  },
  {
    label: "spam",
    lang: "en",
    from: ["{MOBILE}", "Netflix"],
    t: "Netflix: Your payment was declined. To avoid suspension of your membership update your billing details: {PURL}",
  },
  {
    label: "spam",
    lang: "en",
    from: MOB,
    t: "Bitcoin is exploding! Turn $250 into $5,000 in one week. Join our VIP group: {PURL}",
  },
  // ---------------------------------------------------------------- spam: marketing
  {
    label: "spam",
    lang: "de",
    from: ["Lidl", "LIDL"],
    t: "Lidl Plus: Nur heute 20% Rabatt auf Obst & Gemüse! Coupon in der App aktivieren. Abmelden: STOP an 83355",
  },
  {
    label: "spam",
    lang: "de",
    from: ["MediaMarkt"],
    t: "MediaMarkt Black Week: Bis zu 40% auf TVs! Nur bis Sonntag. mediamarkt.de/blackweek Abmelden: STOP",
  },
  {
    label: "spam",
    lang: "de",
    from: ["Zalando"],
    t: "Zalando: Dein Gutscheincode SALE15 für 15% Extra-Rabatt ist nur noch 48 Stunden gültig! Jetzt shoppen.",
  },
  {
    label: "spam",
    lang: "de",
    from: ["Pizza", "DominosDE"],
    t: "Domino's: Mittwochs-Deal! Jede Pizza 7,99 EUR mit Code MITTWOCH. Abmelden: STOP an 70300",
  },
  {
    label: "spam",
    lang: "de",
    from: ["Vodafone"],
    t: "Vodafone: Jetzt upgraden und 3 Monate GigaTV gratis sichern! Infos unter vodafone.de/angebot. Kein Interesse? Antworte STOP.",
  },
  {
    label: "spam",
    lang: "de",
    from: ["Douglas"],
    t: "DOUGLAS: Exklusiv für Sie - 25% auf Parfum mit dem Code DUFT25. Nur online bis {DATES}. Abmeldung: douglas.de/sms",
  },
  {
    label: "spam",
    lang: "de",
    from: ["Fitness"],
    t: "FitX: Jetzt Mitglied werden und die ersten 2 Monate nur 9,99 EUR zahlen! Angebot gilt bis Monatsende.",
  },
  {
    label: "spam",
    lang: "en",
    from: ["Boots", "ASOS"],
    t: "ASOS: 30% off EVERYTHING this weekend only! Use code WEEKEND30 at checkout. Opt out: text STOP to 60060",
  },
  {
    label: "spam",
    lang: "en",
    from: ["Dominos"],
    t: "Domino's: 2 large pizzas for £25 tonight only! Order at dominos.co.uk. Txt STOP to 80010 to opt out",
  },
  {
    label: "spam",
    lang: "en",
    from: ["Vodafone", "EE"],
    t: "EE: Upgrade now and get double data for 6 months at no extra cost! Visit ee.co.uk/upgrade. Text STOP to opt out.",
  },
  {
    label: "spam",
    lang: "en",
    from: ["Casino"],
    t: "Claim 100 FREE spins + a 200% welcome bonus today! T&Cs apply. 18+ only. Unsubscribe: reply STOP",
  },
  // ---------------------------------------------------------------- personal (de)
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Bin in 10 Minuten da, fang schon mal ohne mich an",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Kannst du auf dem Heimweg noch Milch und Brot mitbringen?",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Alles Gute zum Geburtstag, {FIRST}! 🎉 Feier schön und lass dich reich beschenken!",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Treffen wir uns um {TIME} am Bahnhof? Ich bring die Tickets mit.",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Meine neue Nummer ist {PHONE}, bitte einspeichern. LG {FIRST}",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Der Code für die Haustür ist {CODE4}, Schlüssel liegt unter der Matte 😉",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Hast du die {N2} Euro schon überwiesen? Sonst mach ich das morgen.",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Ich hab den Zug verpasst, komme mit dem nächsten um {TIME}.",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Schatz, ich liebe dich ❤️ Freu mich auf heute Abend!",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Wie war's beim Arzt? Ruf mich an wenn du Zeit hast.",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Oma fragt ob ihr am Sonntag zum Kaffee kommt. So gegen 15 Uhr?",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Das WLAN-Passwort ist Sonnenblume{N4}, falls du es noch brauchst",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Sorry, schaffe es heute nicht zum Training. Bin krank 🤒",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Haha, das Foto ist super! Schick mir das mal per Mail",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Paket für dich ist bei mir abgegeben worden, kannst es heute Abend holen",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Kommst du morgen mit ins Kino? Film fängt um {TIME} an",
  },
  { label: "personal", lang: "de", from: MOB, t: "Ich steh vor der Tür, mach mal auf" },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Danke für gestern, war ein richtig schöner Abend! 😊",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Kannst du die Kinder um {TIME} von der Kita abholen? Ich hab noch ein Meeting",
  },
  {
    label: "personal",
    lang: "de",
    from: MOB,
    t: "Hab meinen Termin beim Zahnarzt verschoben, bin doch zum Essen da",
  },
  { label: "personal", lang: "de", from: MOB, t: "Zimmer {N3} im 2. Stock, komm einfach hoch" },
  { label: "personal", lang: "de", from: MOB, t: "Gute Nacht, schlaf schön 😘" },
  // ---------------------------------------------------------------- personal (en)
  { label: "personal", lang: "en", from: MOB, t: "Running 10 min late, sorry! Order me a coffee?" },
  { label: "personal", lang: "en", from: MOB, t: "Can you pick up some milk on your way home?" },
  {
    label: "personal",
    lang: "en",
    from: MOB,
    t: "Happy birthday {FIRSTEN}!! Hope you have an amazing day 🎂",
  },
  {
    label: "personal",
    lang: "en",
    from: MOB,
    t: "Meet you at the station at {TIMEEN}? I'll grab the tickets.",
  },
  {
    label: "personal",
    lang: "en",
    from: MOB,
    t: "My new number is {PHONEEN}, save it! - {FIRSTEN}",
  },
  { label: "personal", lang: "en", from: MOB, t: "The gate code is {CODE4}, see you inside" },
  { label: "personal", lang: "en", from: MOB, t: "Did you send me the £{N2} for the tickets yet?" },
  { label: "personal", lang: "en", from: MOB, t: "Missed the bus, will be there around {TIMEEN}" },
  { label: "personal", lang: "en", from: MOB, t: "Love you, see you tonight xx" },
  { label: "personal", lang: "en", from: MOB, t: "How did the interview go? Call me when you can" },
  {
    label: "personal",
    lang: "en",
    from: MOB,
    t: "Are we still on for dinner Saturday? Table's booked for 8",
  },
  { label: "personal", lang: "en", from: MOB, t: "lol that video is hilarious, send me the link" },
  { label: "personal", lang: "en", from: MOB, t: "I'm outside, come down" },
  {
    label: "personal",
    lang: "en",
    from: MOB,
    t: "Your parcel got delivered to ours by mistake, I'll drop it round later",
  },
  { label: "personal", lang: "en", from: MOB, t: "Room {N3}, third floor. Just come up." },
  {
    label: "personal",
    lang: "en",
    from: MOB,
    t: "Thanks for the lift yesterday, really appreciated!",
  },
  { label: "personal", lang: "en", from: MOB, t: "Can you call me back? It's about mum" },
  // ---------------------------------------------------------------- unknown (service/info, none of the above)
  {
    label: "unknown",
    lang: "de",
    from: ["Telekom"],
    t: "Telekom: Sie haben 80% Ihres Datenvolumens verbraucht. Mehr Daten buchen: pass.telekom.de",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Vodafone", "Aldi Talk", "congstar"],
    t: "Ihr aktuelles Guthaben beträgt {AMT} EUR. Aufladen unter *100# oder in der App.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Vodafone", "o2"],
    t: "Willkommen in Österreich! Mit Ihrem Tarif telefonieren und surfen Sie zu Inlandskonditionen. Notruf: 112",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Sparkasse"],
    t: "Sparkasse: Ihr Kontostand beträgt {AMT} EUR (Stand {DATE}). Ihr Kontowecker.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["DKB"],
    t: "DKB: Kartenumsatz {AMT} EUR bei REWE {CITY} am {DATES}. Nicht Sie? Karte sperren: 116 116",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Telekom", "Mailbox"],
    t: "Sie haben 1 neue Nachricht auf Ihrer Mailbox von {PHONE}. Zum Abhören 3311 anrufen.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Google"],
    t: "Google: Neue Anmeldung in Ihrem Konto auf einem Windows-Gerät. Wenn Sie das nicht waren, prüfen Sie Ihre Aktivität unter g.co/sc.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Stadtwerke", "EnBW"],
    t: "Ihre Jahresabrechnung ist da: Guthaben {AMT} EUR. Details im Kundenportal.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Lieferando"],
    t: "Lieferando: Deine Bestellung bei Pizzeria Roma wurde bestätigt. Geschätzte Lieferzeit: {N2} Minuten.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["FREENOW", "Taxi"],
    t: "Ihr Taxi (Kennzeichen B-TX {N4}) ist in 3 Minuten da. Fahrer: {FIRST}",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["ADAC"],
    t: "ADAC Pannenhilfe: Ihr Auftrag {N8} ist eingegangen. Der Pannenhelfer ist voraussichtlich in 40 Minuten bei Ihnen.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["ING"],
    t: "ING: Ihre neue Girocard wurde heute an Sie verschickt. Die PIN erhalten Sie separat per Post.",
  },
  {
    label: "unknown",
    lang: "de",
    from: ["Telekom"],
    t: "Ihre Rechnung für {MONTHDE} über {AMT} EUR ist online. Abbuchung am {DATES}.",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["EE", "Vodafone"],
    t: "You've used 80% of your monthly data allowance. Add more at ee.co.uk/data",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["Vodafone", "Three"],
    t: "Welcome to France! Use your UK allowance at no extra cost. Emergency: 112",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["Monzo"],
    t: "Monzo: You spent £{AMTEN} at TESCO STORES. Balance: £{AMTEN2}.",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["Uber"],
    t: "Your Uber driver, {FIRSTEN}, is arriving in a black Toyota Prius ({PLATE}).",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["Microsoft"],
    t: "Microsoft account: security info was added to your account. If this wasn't you, visit account.live.com",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["BT", "Virgin"],
    t: "Your bill of £{AMTEN} is ready. It'll be collected by Direct Debit on or after {DATEUK}.",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["Deliveroo"],
    t: "Deliveroo: your order from Wagamama has been accepted and will arrive in about {N2} minutes.",
  },
  {
    label: "unknown",
    lang: "en",
    from: ["Tesco"],
    t: "Your prescription is ready to collect from Tesco Pharmacy {CITYEN}.",
  },
];
