// bench/peers/hub.js: the WebSocket side shared by both bridges.
//
// A bridge hands every change to broadcast(table, text); the hub sends it
// to every client subscribed to that table, the way the `ws` README's
// broadcast example does (one ws.send per open client).
//
// Client protocol (the same for both bridges):
//   client -> bridge: one subscribe message, any text.  If it is JSON
//     with "tables" (an array, as pgsync's subscribe request) or "table",
//     the client gets those tables ("lat" or "public.lat"); anything else
//     subscribes to every table.
//   bridge -> client: {"type":"subscribed"}, then one JSON text message
//     per change.
'use strict';
const { WebSocketServer, WebSocket } = require('ws');

function subscribedTables(text) {
  try {
    const req = JSON.parse(text);
    const names = Array.isArray(req.tables) ? req.tables : (req.table ? [req.table] : []);
    return names.length ? new Set(names.map(String)) : null;
  } catch (e) {
    return null;       // not JSON: every table
  }
}

function wants(tables, schema, table) {
  return tables === null || tables.has(table) || tables.has(schema + '.' + table);
}

// Starts the server on host:port; calls onListening() once it listens.
function startHub({ host, port }, onListening) {
  const wss = new WebSocketServer({ host, port, clientTracking: true });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.once('message', (data) => {
      ws.tables = subscribedTables(data.toString());
      ws.send('{"type":"subscribed"}');
    });
  });
  wss.on('listening', onListening);
  return {
    broadcast(schema, table, text) {
      for (const ws of wss.clients) {
        if (ws.readyState === WebSocket.OPEN && ws.tables !== undefined && wants(ws.tables, schema, table)) {
          ws.send(text);
        }
      }
    },
    close(cb) { wss.close(cb); for (const ws of wss.clients) ws.terminate(); },
  };
}

// --name value command-line options, with defaults.
function options(defaults) {
  const out = Object.assign({}, defaults);
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in defaults) || i + 1 >= argv.length) {
      console.error('unknown or incomplete option ' + argv[i] + '; known: ' + Object.keys(defaults).join(', '));
      process.exit(2);
    }
    out[k] = argv[i + 1];
  }
  return out;
}

module.exports = { startHub, options };
