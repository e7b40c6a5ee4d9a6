'use strict';
// Task module for examples/pool-pbkdf2.js: a blocking hash, the kind of work an event-loop
// handler must never do itself.
const crypto = require('crypto');

module.exports = ({ password, salt }) => crypto.pbkdf2Sync(password, salt, 10000, 32, 'sha256').toString('hex');
