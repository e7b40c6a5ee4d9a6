// lib/ has no import cycles among value imports (issue 9: the shared types and
// Action live in leaf modules; a cycle makes load order decide what is undefined).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const LIB = path.join(__dirname, '..', '..', 'lib');

function graph(files) {
  const g = {};
  for (const [name, text] of Object.entries(files)) {
    g[name] = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'\.\/([\w-]+)'/gms)].map((m) => m[1]);
  }
  return g;
}

function cycles(g) {
  const state = {};
  const stack = [];
  const found = [];
  const visit = (n) => {
    if (state[n] === 1) return void found.push([...stack.slice(stack.indexOf(n)), n].join(' -> '));
    if (state[n] === 2) return;
    state[n] = 1;
    stack.push(n);
    for (const m of g[n] || []) visit(m);
    stack.pop();
    state[n] = 2;
  };
  Object.keys(g).forEach(visit);
  return found;
}

test('lib/*.ts has no value-import cycles', () => {
  const files = {};
  for (const f of fs.readdirSync(LIB).filter((f) => f.endsWith('.ts'))) files[f.slice(0, -3)] = fs.readFileSync(path.join(LIB, f), 'utf8');
  assert.ok(Object.keys(files).length > 10, 'lib/ sources found');
  assert.deepStrictEqual(cycles(graph(files)), []);
});

test('the cycle check finds a cycle (and ignores type-only imports)', () => {
  const g = graph({
    a: "import { b } from './b';\n",
    b: "import {\n  c,\n} from './c';\nimport type { A } from './a';\n",
    c: "export { a } from './a';\n",
  });
  assert.deepStrictEqual(cycles(g), ['a -> b -> c -> a']);
  assert.deepStrictEqual(cycles(graph({ a: "import type { B } from './b';\n", b: "import { a } from './a';\n" })), []);
});
