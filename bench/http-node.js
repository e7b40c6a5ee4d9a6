'use strict';
// node:http baseline for bench/http.js: the 13-byte route. usage: node bench/http-node.js --port N
const http = require('node:http');
const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 0;
const BODY = 'Hello, World!';
http
  .createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 13 });
    res.end(BODY);
  })
  .listen(port, '127.0.0.1', function () {
    console.log(`node:http listening on http://127.0.0.1:${this.address().port}`);
  });
process.once('SIGTERM', () => process.exit(0));
