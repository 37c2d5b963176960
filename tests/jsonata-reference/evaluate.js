// Evaluates every case of the corpus files, in the order given, with the reference JSONata (the
// version in package.json) and writes the results as JSON:
// [{expr, result} | {expr, undefined: true} | {expr, error}]. The files' `inputs` are merged.
// Usage: node evaluate.js corpus.json [corpus-more.json ...] > expected.json
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
  const corpora = process.argv.slice(2).map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));
  const inputs = Object.assign({}, ...corpora.map((corpus) => corpus.inputs || {}));
  const results = [];
  for (const testCase of corpora.flatMap((corpus) => corpus.cases)) {
    if (process.env.JSONATA_TRACE) console.error(testCase.expr);
    results.push(await evaluateCase(testCase, inputs));
  }
  process.stdout.write(JSON.stringify({ jsonata: require('jsonata/package.json').version, results }, null, 1) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
