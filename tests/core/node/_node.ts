/**
 * Test support: start a real node on loopback ports, raw connections that
 * collect what they receive.
 *
 * @module
 */
import { Node } from "../../../core/node/node.ts";
import { validateConfig } from "../../../core/node/config.ts";
import { createLogger } from "../../../core/node/log.ts";
import { TcpConn } from "../../../core/transport/tcp.ts";

/** Starts a node on 127.0.0.1 with random ports and a temp data dir. */
export async function startNode(
  extra: Record<string, unknown> = {},
): Promise<{ node: Node; dir: string; stop: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "myclerk-test-" });
  const lines: string[] = [];
  const node = await Node.start(
    validateConfig({ data: dir, listen: { tcp: "127.0.0.1:0", http: "127.0.0.1:0" }, ...extra }),
    { log: createLogger({ sink: (l) => lines.push(l) }) },
  );
  return {
    node,
    dir,
    stop: async () => {
      await node.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A raw framed TCP connection that records received messages. */
export class RawTcp {
  readonly conn: TcpConn;
  readonly received: Uint8Array[] = [];
  closed?: string;
  #waiters: (() => void)[] = [];

  private constructor(c: TcpConn) {
    this.conn = c;
    c.start({
      onMessage: (m) => {
        this.received.push(m);
        this.#waiters.splice(0).forEach((f) => f());
      },
      onClose: (r) => {
        this.closed = r;
        this.#waiters.splice(0).forEach((f) => f());
      },
    });
  }

  /** Dials the node's TCP port. */
  static async dial(port: number): Promise<RawTcp> {
    return new RawTcp(new TcpConn(await Deno.connect({ hostname: "127.0.0.1", port })));
  }

  /** Waits for the n-th message (1-based) or close, at most `ms`. */
  async waitFor(n: number, ms = 3000): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + ms;
    while (this.received.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.received[n - 1];
  }

  /** Waits until the connection closes (or `ms`). */
  async waitClosed(ms = 3000): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
