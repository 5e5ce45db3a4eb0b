// One DTLS 1.2 PSK exchange with node-dtls-client (npm), for test_dtls_clients.py:
// connect, send a line, print the first datagram that comes back, leave.
//   node node_dtls_client.js HOST IDENTITY KEY-TEXT SUITE      (NODE_PATH: its node_modules)
// Prints "MSG <text>" and exits 0, or "ERROR <reason>" (exit 2) / "TIMEOUT" (exit 3).
'use strict';
const { dtls } = require('node-dtls-client');

const [host, identity, key, suite] = process.argv.slice(2);
const sock = dtls.createSocket({
  type: host.includes(':') ? 'udp6' : 'udp4',
  address: host,
  port: 5684,
  psk: { [identity]: key },
  timeout: 5000,
  ciphers: [suite],
});
const timer = setTimeout(() => {
  console.log('TIMEOUT');
  process.exit(3);
}, 10000);
sock.on('connected', () => sock.send(Buffer.from(`node ${suite}\n`)));
sock.on('message', (m) => {
  console.log(`MSG ${m.toString().trim()}`);
  clearTimeout(timer);
  sock.close();
  setTimeout(() => process.exit(0), 200);
});
sock.on('error', (e) => {
  console.log(`ERROR ${e.message}`);
  process.exit(2);
});
