// bench/peers/notify-bridge.js: a trigger -> pg_notify -> WebSocket bridge,
// as a user would write one with pg (node-postgres) and ws.
//
//   node notify-bridge.js --port 8092 --channel pgsync_bench
//
// Connection settings come from the usual PG* environment variables.  The
// trigger (bench/peers/notify-trigger.sql) sends one notification per row
// change whose payload is the JSON message itself; this process LISTENs
// on the channel with one connection and forwards each payload, unchanged,
// to the subscribed clients.  A lost database connection is reopened (and
// LISTEN issued again) after 100 ms.  NOTIFY payloads are limited to 8000
// bytes: a wider row makes the writing transaction fail (see README.md).
// Prints "listening PORT" once the WebSocket server listens and LISTEN is
// in place.
'use strict';
const { Client } = require('pg');
const { startHub, options } = require('./hub');

const opt = options({ host: '127.0.0.1', port: '8092', channel: 'pgsync_bench' });

let listening = false, announced = false;
const hub = startHub({ host: opt.host, port: +opt.port }, () => { listening = true; maybeReady(); });
let listenerUp = false;

function maybeReady() {
  if (listening && listenerUp && !announced) {
    announced = true;
    console.log('listening ' + opt.port);
  }
}

function connect() {
  const client = new Client({ application_name: 'pgsync-bench-notify' });
  client.on('notification', (n) => {
    let schema = '', table = '';
    // the table is needed for routing: read it without parsing the row
    const m = /"schema" : "([^"]*)", "table" : "([^"]*)"/.exec(n.payload);
    if (m) { schema = m[1]; table = m[2]; }
    hub.broadcast(schema, table, n.payload);
  });
  const retry = (e) => {
    if (e) console.error('notify-bridge:', e.message);
    client.removeAllListeners('end');
    client.end().catch(() => {});
    setTimeout(connect, 100);
  };
  client.on('error', retry);
  client.on('end', () => retry());
  client.connect()
    .then(() => client.query('LISTEN ' + opt.channel))
    .then(() => { listenerUp = true; maybeReady(); })
    .catch(retry);
}
connect();

process.on('SIGTERM', () => process.exit(0));
