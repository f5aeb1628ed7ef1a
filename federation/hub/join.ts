/**
 * `hub join RELAY TOKEN` (docs/FEDERATION.md §4): admission with an invite
 * token and a proof of possession of the family key bound to the session's
 * transcript hash; on FED_ADMITTED the relay (address and pinned key) is
 * recorded in hub.json. A one-shot session, not the hub's dial loop.
 *
 * @module
 */

import { ErrorCode, MyClerkError } from "../../core/errors.ts";
import type { CryptoBackend } from "../../core/crypto/types.ts";
import type { Identity } from "../../core/session/handshake.ts";
import { Client } from "../../core/node/client.ts";
import { fromBase64Url } from "../bytes.ts";
import { decodeFedError, ERROR_OP } from "../directory.ts";
import { createFamilyRecord, type FamilyRecord } from "../family.ts";
import { type HubRelay, readFamilyKey, readHubState, writeHubState } from "../files.ts";
import { admissionProof, TOKEN_ID_LENGTH } from "../invite.ts";
import { decodeFed, encodeFed, FedOp } from "../messages.ts";
import { nowSec } from "./context.ts";

/** Result of {@link joinRelay}. */
export interface JoinResult {
  /** The family record as admitted (`home` = the relay's key id). */
  readonly record: FamilyRecord;
  /** The relay joined: address and pinned static key, as written to hub.json. */
  readonly relay: HubRelay;
  /** The relay's quota for the family: most messages queued at once. */
  readonly quotaMessages: number;
  /** The relay's quota for the family: most sealed bytes queued at once. */
  readonly quotaBytes: number;
  /** Largest sealed envelope the relay accepts, bytes. */
  readonly maxMessage: number;
}

/**
 * `hub join RELAY TOKEN`: dials the relay with the node key, proves
 * possession of the family key bound to this session's transcript hash, and
 * on FED_ADMITTED records the relay (address and pinned key) in hub.json.
 */
export async function joinRelay(
  be: CryptoBackend,
  nodeIdentity: Identity,
  data: string,
  addr: string,
  token: string,
  timeoutMs = 10_000,
): Promise<JoinResult> {
  const fam = await readFamilyKey(be, data);
  const state = await readHubState(be, data);
  let tokenId: Uint8Array;
  try {
    tokenId = fromBase64Url(token).subarray(1, 1 + TOKEN_ID_LENGTH);
  } catch {
    throw new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, "token-malformed");
  }
  if (tokenId.length !== TOKEN_ID_LENGTH) {
    throw new MyClerkError(ErrorCode.FED_ADMISSION_DENIED, "token-malformed");
  }
  const c = await Client.connect(addr, {
    backend: be,
    identity: nodeIdentity,
    tier: 5,
    minTier: 4,
    timeoutMs,
  });
  try {
    const st = c.session.state;
    const record = createFamilyRecord(be, {
      name: state?.name ?? "family",
      key: fam.publicKey,
      home: st.peerKeyId,
      homeAddr: addr.length <= 255 ? addr : undefined,
      created: state?.created ?? nowSec(),
    });
    const proof = admissionProof(be, fam.privateKey, st.peerStatic, tokenId, st.transcriptHash);
    const reply = new Promise<JoinResult>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new MyClerkError(ErrorCode.TIMEOUT, "join")),
        timeoutMs,
      );
      c.onRaw((op, bytes) => {
        if (op === ERROR_OP) {
          clearTimeout(timer);
          try {
            reject(decodeFedError(bytes).error);
          } catch (e) {
            reject(e);
          }
        } else if (op === FedOp.FED_ADMITTED) {
          clearTimeout(timer);
          try {
            const m = decodeFed(be, op, bytes);
            if (m.op !== FedOp.FED_ADMITTED) throw new Error("unreachable");
            resolve({
              record,
              relay: { addr, key: st.peerStatic.slice(), keyId: st.peerKeyId },
              quotaMessages: m.quotaMessages,
              quotaBytes: m.quotaBytes,
              maxMessage: m.maxMessage,
            });
          } catch (e) {
            reject(e);
          }
        }
      });
      c.waitClosed().then((r) => {
        clearTimeout(timer);
        reject(new MyClerkError(ErrorCode.SERVICE_UNAVAILABLE, "closed", { reason: r }));
      });
    });
    c.send(FedOp.FED_ADMIT, encodeFed({ op: FedOp.FED_ADMIT, token, family: record, proof }));
    const r = await reply;
    await writeHubState(data, {
      name: record.name,
      id: record.id,
      created: record.created,
      record,
      relay: r.relay,
    });
    return r;
  } finally {
    c.close();
    await c.waitClosed();
  }
}
