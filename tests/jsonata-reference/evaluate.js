// Evaluates every case of corpus.json with the reference JSONata (the version in package.json)
// and writes the results as JSON: [{expr, result} | {expr, undefined: true} | {expr, error}].
// Usage: node evaluate.js corpus.json > expected.json
'use strict';
const fs = require('fs');
const jsonata = require('jsonata');

function isFunction(value) {
  return typeof value === 'function' || (value !== null && typeof value === 'object' &&
    (value._jsonata_lambda === true || value._jsonata_function === true));
}

async function evaluateCase(testCase, inputs) {
  const input = testCase.input === null ? undefined : inputs[testCase.input];
  try {
    const expression = jsonata(testCase.expr);
    const result = await expression.evaluate(input, testCase.bindings || {});
    if (result === undefined || isFunction(result)) {
      return { expr: testCase.expr, undefined: true };
    }
    return { expr: testCase.expr, result: JSON.parse(JSON.stringify(result)) };
  } catch (err) {
    return { expr: testCase.expr, error: err.code || 'NO_CODE', message: err.message };
  }
}

async function main() {
  const corpus = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = [];
  for (const testCase of corpus.cases) {
    if (process.env.JSONATA_TRACE) console.error(testCase.id, testCase.expr);
    results.push(await evaluateCase(testCase, corpus.inputs));
  }
  process.stdout.write(JSON.stringify({ jsonata: require('jsonata/package.json').version, results }, null, 1) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
