// Connection flood for tests/core/node/flood_test.ts (Node.js built-ins only: Deno cannot bind
// a local address). Usage:
//   node _flood.mjs PORT COUNT LOCAL_ADDRS(comma-separated) RECONNECT(0|1)
// Opens COUNT TCP connections to 127.0.0.1:PORT from the given source addresses (round robin),
// never sends a byte, and with RECONNECT=1 dials again whenever the node closes one (bounded:
// at most 3 * COUNT dials in all). Prints one JSON line per 1000 connects and one when COUNT
// were established; closes everything and exits when stdin ends, or after 120 s.
import net from "node:net";

const [port, countArg, addrsArg, reconnectArg] = process.argv.slice(2);
const count = Number(countArg);
const addrs = addrsArg.split(",");
const reconnect = reconnectArg === "1";
const socks = new Set();
let dials = 0, connected = 0, closedByPeer = 0, errors = 0, stopping = false, reported = false;
const maxDials = 3 * count;

function dial(done = () => {}) {
  if (stopping || dials >= maxDials) return done(false);
  const localAddress = addrs[dials % addrs.length];
  dials++;
  const s = net.connect({ host: "127.0.0.1", port: Number(port), localAddress });
  socks.add(s);
  let settled = false;
  const settle = (ok) => {
    if (!settled) {
      settled = true;
      done(ok);
    }
  };
  s.on("connect", () => {
    settle(true);
    connected++;
    if (connected % 1000 === 0) console.log(JSON.stringify({ connected, closedByPeer, errors }));
    if (connected >= count && !reported) {
      reported = true;
      console.log(JSON.stringify({ established: connected, closedByPeer, errors, dials }));
    }
  });
  s.on("error", () => errors++);
  s.on("close", () => {
    settle(false);
    socks.delete(s);
    if (stopping) return;
    closedByPeer++;
    if (reconnect) setImmediate(() => dial());
  });
  s.on("data", () => {}); // never answer
}

// At most 256 connects in flight: the listen backlog is not what is being measured (an
// overflowing backlog only adds SYN retransmit delays of 1 s, 3 s, 7 s...).
let started = 0, pending = 0;
function pump() {
  while (pending < 256 && started < count) {
    started++;
    pending++;
    dial((ok) => {
      pending--;
      if (ok) setImmediate(pump);
      else setTimeout(pump, 10);
    });
  }
}
pump();

function stop() {
  if (stopping) return;
  stopping = true;
  for (const s of socks) s.destroy();
  console.log(JSON.stringify({ done: true, connected, closedByPeer, errors, dials }));
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, 120_000);
