// Bun.serve baseline for bench/http.js: the 13-byte route. usage: bun bench/http-bun.js --port N
const i = process.argv.indexOf('--port');
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: i > 0 ? Number(process.argv[i + 1]) : 0,
  fetch() {
    return new Response('Hello, World!', { headers: { 'Content-Type': 'text/plain' } });
  },
});
console.log(`Bun.serve listening on http://127.0.0.1:${server.port}`);
process.on('SIGTERM', () => process.exit(0));
