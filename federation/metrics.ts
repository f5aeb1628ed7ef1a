/**
 * The federation layer's `/metrics` series, declared once (rendered by the
 * node's registry, core/node/metrics.ts). Names were `fed_*` up to 0.1.0;
 * docs/OPERATOR.md "Metrics" lists the renames.
 *
 * @module
 */

import { counter, gauge } from "../core/node/metrics.ts";

/**
 * Why a relay or hub dropped or refused a federation message: the closed
 * set of `reason` values (docs/FEDERATION.md names each where it happens).
 * A refusal whose detail is not listed is counted as `other`.
 */
export const FED_DROP_REASONS: readonly string[] = [
  "ack-other-family",
  "ack-storage-full",
  "ack-store",
  "bad-request",
  "closed",
  "envelope-inner",
  "expired",
  "expired-at-ingest",
  "expired-not-homed-here",
  "fed-sealed-on-session",
  "fetch-other-family",
  "from-other-family",
  "hello-key-id",
  "hops",
  "no-family",
  "no-hello",
  "no-route",
  "not-a-hub",
  "not-a-peer",
  "not-a-relay",
  "not-admitted",
  "not-for-us",
  "not-homed-here",
  "open",
  "peer-not-allowed",
  "quota",
  "rate",
  "replay",
  "storage-full",
  "too-large",
  "ttl",
  "unknown-family",
];

/** FED_ADMIT results (`ok` or why the admission was refused). */
export const ADMISSION_RESULTS: readonly string[] = [
  "ok",
  "admit",
  "family-other-home",
  "no-static-key",
  "peer-is-relay",
  "proof",
  "storage-full",
  "token-expired",
  "token-forged",
  "token-id",
  "token-malformed",
  "token-other-family",
  "token-other-relay",
  "token-unknown",
  "token-used",
  "transcript-length",
];

/** The federation series (relay and hub). */
export const FED = {
  drops: counter(
    "myclerk_federation_drops_total",
    "Federation messages dropped or refused, by reason",
    { reason: FED_DROP_REASONS },
  ),
  stored: counter("myclerk_federation_stored_total", "Messages durably stored, by lane", {
    lane: ["mailbox", "peer"],
  }),
  handedOff: counter(
    "myclerk_federation_handed_off_total",
    "Messages handed straight to an online recipient and acked by it in time: never stored",
  ),
  handoffStored: counter(
    "myclerk_federation_handoff_stored_total",
    "Messages handed off, then stored (no ack within handoffMs, or the session ended); " +
      "also in stored_total",
  ),
  duplicates: counter(
    "myclerk_federation_duplicates_total",
    "FED_DELIVERs already stored (acked again, not stored twice)",
  ),
  pushed: counter("myclerk_federation_pushed_total", "FED_DELIVERs pushed, by destination", {
    to: ["hub", "peer"],
  }),
  acked: counter("myclerk_federation_acked_total", "Messages deleted after an ack, by kind", {
    kind: ["delivered", "stored"],
  }),
  admissions: counter("myclerk_federation_admissions_total", "FED_ADMIT results", {
    result: ADMISSION_RESULTS,
  }),
  rateDelay: counter(
    "myclerk_federation_rate_delay_seconds_total",
    "Seconds of read delay imposed by per-family rate limits",
  ),
  pushPaused: counter(
    "myclerk_federation_push_paused_total",
    "Times pushing to a session paused because its send queue was full, by destination",
    { to: ["hub", "peer"] },
  ),
  expired: counter("myclerk_federation_expired_total", "Messages expired undelivered"),
  expiredNotices: counter(
    "myclerk_federation_expired_notices_received_total",
    "Expiry notices received from peer relays (message ids)",
  ),
  groupCommits: counter(
    "myclerk_federation_group_commits_total",
    "Group commits (one fsync each); stored_total / this = messages per commit",
  ),
  walSyncs: counter("myclerk_federation_wal_syncs_total", "WAL fsyncs of the relay store"),
  syncFailures: counter(
    "myclerk_federation_wal_sync_failures_total",
    "WAL fsyncs of the relay store that failed",
  ),
  hubsConnected: gauge("myclerk_federation_hubs_connected", "Hub sessions at this relay now"),
  peersConnected: gauge("myclerk_federation_peers_connected", "Peer relay links up now"),
  queueMessages: gauge("myclerk_federation_queue_messages", "Messages queued, all lanes"),
  queueBytes: gauge("myclerk_federation_queue_bytes", "Sealed bytes queued, all lanes"),
  queueAge: gauge(
    "myclerk_federation_queue_oldest_age_seconds",
    "Age of the oldest queued message, by lane (0 when empty)",
    { lane: ["mailbox", "peer"] },
  ),
  familiesLocal: gauge("myclerk_federation_families_local", "Families homed at this relay"),
  appDelivered: counter(
    "myclerk_federation_app_delivered_total",
    "Messages handed to the application (inbox), exactly once",
  ),
  hubConnects: counter(
    "myclerk_federation_hub_connects_total",
    "Sessions established to the relay",
  ),
  outboxStored: counter(
    "myclerk_federation_outbox_stored_total",
    "Outbox messages acked stored by a relay",
  ),
  outboxPending: gauge("myclerk_federation_outbox_pending", "Outbox messages not yet stored"),
  inboxMessages: gauge("myclerk_federation_inbox_messages", "Messages in the hub's inbox"),
  hubConnected: gauge("myclerk_federation_hub_connected", "1 while the hub's relay session is up"),
} as const;

/** Old (0.1.0) name -> current name, for docs/OPERATOR.md and dashboards. */
export const RENAMED: Readonly<Record<string, string>> = {
  fed_drop_total: FED.drops.name,
  fed_stored_total: FED.stored.name,
  fed_duplicate_total: FED.duplicates.name,
  fed_pushed_total: FED.pushed.name,
  fed_acked_total: FED.acked.name,
  fed_admissions_total: FED.admissions.name,
  fed_rate_delay_ms_total: FED.rateDelay.name,
  fed_push_paused_total: FED.pushPaused.name,
  fed_expired_total: FED.expired.name,
  fed_expired_notices_in_total: FED.expiredNotices.name,
  fed_group_commits_total: FED.groupCommits.name,
  fed_wal_syncs_total: FED.walSyncs.name,
  fed_sync_failures_total: FED.syncFailures.name,
  fed_hubs_connected: FED.hubsConnected.name,
  fed_peers_connected: FED.peersConnected.name,
  fed_queue_messages: FED.queueMessages.name,
  fed_queue_bytes: FED.queueBytes.name,
  fed_families_local: FED.familiesLocal.name,
  fed_app_delivered_total: FED.appDelivered.name,
  fed_hub_connects_total: FED.hubConnects.name,
  fed_outbox_stored_total: FED.outboxStored.name,
  fed_outbox_pending: FED.outboxPending.name,
  fed_inbox_messages: FED.inboxMessages.name,
  fed_hub_connected: FED.hubConnected.name,
  myclerk_plugin_latency_us: "myclerk_plugin_request_duration_seconds",
};
