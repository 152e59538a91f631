// Node 20 has no global WebSocket (it arrived in Node 22): give the browser-style
// seed example one from the "ws" package. Run as: node --require ./ws-global.js seed_client.js
globalThis.WebSocket = require('ws');
