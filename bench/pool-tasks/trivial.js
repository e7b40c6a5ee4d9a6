'use strict';
// The bench's trivial task: dispatch cost only.
module.exports = (x) => x + 1;
