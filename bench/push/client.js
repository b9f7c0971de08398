// bench/push/client.js: the Node WebSocket load client of bench/rls (per-client
// tokens and filters); bench/push and bench/connections use
// bench/loadclient/pgsync-load.
//
//   node client.js URL NCLIENTS MODE
//
// Opens NCLIENTS connections (subprotocol pgsync.v1), subscribes each to
// public.lat, prints "ready" once all are subscribed, then counts what
// arrives.  MODE "latency": for every insert, latency = arrival time minus
// the row's clock_timestamp() (column 2).  MODE "count": only counts
// messages.  On SIGUSR2 or stdin end it prints one JSON line of results
// and exits.  With PGSYNC_BENCH_PLAN set to a JSON file
// [{"token":..., "tables":[...], "filter":...}, ...], client i uses entry
// i: its token in the Authorization header, its tables and filter
// (bench/rls); the row's timestamp is still its 2nd column.
'use strict';
const WebSocket = require('ws');
const { monitorEventLoopDelay, PerformanceObserver } = require('perf_hooks');

const [url, nArg, mode] = process.argv.slice(2);
const n = parseInt(nArg, 10);
let ready = 0;
let msgs = 0;
let inserts = 0;
let commits = 0;
let firstAt = 0;
let lastAt = 0;
let lat = new Float64Array(1 << 20);   // microseconds (typed: no GC scans)
let nlat = 0;
// The client's own stalls, reported with the results: event-loop delay
// and garbage-collection pauses show up as latency of whatever arrives
// meanwhile.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let gcCount = 0, gcMs = 0, gcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcCount++; gcMs += e.duration; gcMaxMs = Math.max(gcMaxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const socks = [];
const plan = process.env.PGSYNC_BENCH_PLAN ?
  JSON.parse(require('fs').readFileSync(process.env.PGSYNC_BENCH_PLAN, 'utf8')) : null;

function nowUs() {
  return (performance.timeOrigin + performance.now()) * 1000;
}

// "2026-11-29 10:19:35.771191+00" (text of timestamptz) -> microseconds
function tsUs(s) {
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?/.exec(s);
  const frac = m[7] ? parseInt((m[7] + '000000').slice(0, 6), 10) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) * 1000 + frac;
}

// The same, cheaply: 100 clients x 1,000 rows/s is 100k timestamps/s in one
// Node process sharing 2 cores with the server, and the client's own CPU
// time shows up as latency.  The whole-second part is cached; the row's
// "t" (2nd column) is read straight from the bytes, without JSON.parse.
let secKey = '';
let secUs = 0;
function insertTsUs(buf) {
  const row = buf.indexOf(0x5b, 1);                 // '[' of the row
  const q = row < 0 ? -1 : buf.indexOf(0x22, row);  // '"' opening column 2
  const e = q < 0 ? -1 : buf.indexOf(0x22, q + 1);
  const s = e < 0 ? '' : buf.toString('latin1', q + 1, e);
  if (s.length < 20 || s[4] !== '-' || s[19] !== '.' ||
      buf.lastIndexOf(0x2c, q) < row) {           // a ',' must precede it
    return tsUs(JSON.parse(buf)[3][1]);            // unexpected shape
  }
  const key = s.slice(0, 19);
  if (key !== secKey) {
    secKey = key;
    secUs = tsUs(key);
  }
  let frac = 0, i = 20, d = 0;
  for (; d < 6 && i < s.length; i++, d++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    frac = frac * 10 + c;
  }
  for (; d < 6; d++) frac *= 10;
  return secUs + frac;
}

function open(i) {
  const p = plan ? plan[i] : null;
  const opts = { perMessageDeflate: false, maxPayload: 1 << 30, skipUTF8Validation: true };
  if (p && p.token) opts.headers = { Authorization: 'Bearer ' + p.token };
  const ws = new WebSocket(url, 'pgsync.v1', opts);
  socks.push(ws);
  const req = { type: 'subscribe', id: i, tables: p ? p.tables : ['public.lat'] };
  if (p && p.filter) req.filter = p.filter;
  ws.on('open', () => ws.send(JSON.stringify(req)));
  ws.on('message', (data) => {
    const t = nowUs();
    if (data[0] === 0x7b) {            // '{': control message
      const m = JSON.parse(data);
      if (m.type === 'ok' && ++ready === n) {
        gcCount = 0; gcMs = 0; gcMaxMs = 0;
        loopDelay.enable();
        console.log('ready');
      }
      else if (m.type === 'error') console.error('error', JSON.stringify(m));
      return;
    }
    msgs++;
    if (!firstAt) firstAt = t;
    lastAt = t;
    const op = data[2];
    if (op === 0x49) {                // 'I'
      inserts++;
      if (mode === 'latency') {
        if (nlat === lat.length) {
          const bigger = new Float64Array(lat.length * 2);
          bigger.set(lat);
          lat = bigger;
        }
        lat[nlat++] = t - insertTsUs(data);
      }
    } else if (op === 0x43) commits++;
  });
  ws.on('error', (e) => console.error('ws error', e.message));
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] / 1000;
}

function finish() {
  lat = lat.subarray(0, nlat).sort();
  const secs = (lastAt - firstAt) / 1e6;
  console.log(JSON.stringify({
    clients: n, msgs, inserts, commits, secs,
    msgs_per_s: secs > 0 ? msgs / secs : null,
    p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99), p999_ms: pct(lat, 0.999),
    max_ms: lat.length ? lat[lat.length - 1] / 1000 : null,
    client_loop_delay_p99_ms: loopDelay.percentile(99) / 1e6,
    client_loop_delay_max_ms: loopDelay.max / 1e6,
    client_gc: { count: gcCount, total_ms: gcMs, max_ms: gcMaxMs },
  }));
  for (const s of socks) s.terminate();
  process.exit(0);
}

process.on('SIGUSR2', finish);
process.stdin.on('end', finish);
process.stdin.resume();
let i = 0;
// open in small batches so the accept queue is not flooded
const timer = setInterval(() => {
  for (let k = 0; k < 50 && i < n; k++) open(i++);
  if (i >= n) clearInterval(timer);
}, 5);
