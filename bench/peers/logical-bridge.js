// bench/peers/logical-bridge.js: a logical-replication -> WebSocket bridge,
// as a user would write one with pg-logical-replication and ws.
//
//   node logical-bridge.js --port 8091 --slot bridge --publication bridge_pub
//
// Connection settings come from the usual PG* environment variables
// (PGHOST, PGPORT, PGUSER, PGDATABASE).  The slot (plugin pgoutput) and
// the publication must exist.  Follows the library's README: the pgoutput
// plugin (its recommendation), automatic acknowledgement (each message is
// acknowledged right after the 'data' handler, which has handed it to the
// sockets), and its reconnect loop (subscribe again 100 ms after the
// stream ends).  Column values are kept as PostgreSQL's text (pg-types'
// setTypeParser, the documented way), so a timestamptz reads
// "2026-11-30 22:43:23.123456+00".  One JSON message per change:
//   {"op":"insert","schema":"public","table":"lat","lsn":"0/16B3748","row":{...}}
// Prints "listening PORT" once the WebSocket server listens and the
// replication stream has started.
'use strict';
const { types } = require('pg');
const { LogicalReplicationService, PgoutputPlugin } = require('pg-logical-replication');
const { startHub, options } = require('./hub');

const opt = options({ host: '127.0.0.1', port: '8091', slot: 'bridge', publication: 'bridge_pub' });

// Keep every value as the server's text (node-postgres parses dates into
// millisecond Dates otherwise).
for (const oid of [1082, 1083, 1114, 1184, 1266, 1700]) types.setTypeParser(oid, (v) => v);

let listening = false, streaming = false;
function maybeReady() {
  if (listening && streaming) console.log('listening ' + opt.port);
}
const hub = startHub({ host: opt.host, port: +opt.port }, () => { listening = true; maybeReady(); });
const service = new LogicalReplicationService({ application_name: 'pgsync-bench-logical' },
                                              { acknowledge: { auto: true, timeoutSeconds: 10 } });
const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [opt.publication] });

service.on('data', (lsn, msg) => {
  let row;
  switch (msg.tag) {
    case 'insert': row = msg.new; break;
    case 'update': row = msg.new; break;
    case 'delete': row = msg.old || msg.key; break;
    default: return;            // begin, commit, relation, ...
  }
  const rel = msg.relation;
  hub.broadcast(rel.schema, rel.name,
                JSON.stringify({ op: msg.tag, schema: rel.schema, table: rel.name, lsn, row }));
});
service.on('error', (e) => console.error('logical-bridge:', e.message));

service.once('start', () => { streaming = true; maybeReady(); });

(function proc() {
  service.subscribe(plugin, opt.slot)
    .catch((e) => console.error('logical-bridge:', e.message))
    .then(() => setTimeout(proc, 100));
})();

process.on('SIGTERM', () => process.exit(0));
