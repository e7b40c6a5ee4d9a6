'use strict';
// The bench's blocking task: hold the worker thread for `ms` without burning CPU, as a
// blocking syscall or a sync library call would.
const cell = new Int32Array(new SharedArrayBuffer(4));
module.exports = (ms) => {
  Atomics.wait(cell, 0, 0, ms);
  return ms;
};
