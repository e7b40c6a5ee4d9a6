'use strict';
// Pool task of examples/hash-server.js: the blocking work, then the reply goes
// to the connection from this pool worker's thread.
const crypto = require('node:crypto');
const { asyncWrite } = require('..');

module.exports = ({ password, handle }) => {
  const hash = crypto.pbkdf2Sync(password, 'ringnet', 20000, 32, 'sha256').toString('hex');
  asyncWrite(handle, `${password} ${hash}\n`);
  return hash;
};
