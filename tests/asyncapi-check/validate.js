// Validates AsyncAPI documents with the official parser (@asyncapi/parser, pinned in
// package.json): the JSON Schema of the spec plus its Spectral ruleset (refs, operations,
// channels...). The parser does not check AsyncAPI 3 message examples against their payloads,
// so every example payload is then validated with Ajv (draft-07, formats on) against the
// payload schema the parser resolved.
//
//   node validate.js FILE...
//
// A document passes when the parser reports no error and no warning (info and hints are
// printed but do not fail) and every example matches its payload. Ends with
// `asyncapi: N passed, M failed`; exits 1 if any failed.
'use strict';

const fs = require('fs');
const path = require('path');
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

async function check(parser, file) {
  const source = fs.readFileSync(file, 'utf8');
  const { document, diagnostics } = await parser.parse(source, { source: path.resolve(file) });
  let bad = 0;
  for (const d of diagnostics) {
    const level = SEVERITY[d.severity] || String(d.severity);
    if (d.severity <= DiagnosticSeverity.Warning) bad += 1;
    const where = d.path && d.path.length ? ` at /${d.path.join('/')}` : '';
    console.log(`  ${level} ${d.code}${where}: ${d.message}`);
  }
  if (!document) bad = Math.max(bad, 1);
  else if (document.version() !== '3.0.0') {
    console.log(`  error: version ${document.version()}, expected 3.0.0`);
    bad += 1;
  }
  if (document) bad += checkExamples(document);
  return bad === 0;
}

// Validates each message example's payload against the message's payload schema.
function checkExamples(document) {
  // `strict: false`: the schemas carry OpenAPI's `example` keyword, unknown to JSON Schema.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  let bad = 0;
  let count = 0;
  for (const message of document.allMessages()) {
    const name = message.id();
    const payload = message.payload();
    const examples = message.examples().all();
    if (examples.length === 0) {
      console.log(`  warning: message ${name} has no examples`);
      bad += 1;
      continue;
    }
    if (!payload) {
      console.log(`  error: message ${name} has no payload schema`);
      bad += 1;
      continue;
    }
    const validate = ajv.compile(payload.json());
    for (const example of examples) {
      count += 1;
      if (!validate(example.payload())) {
        bad += 1;
        for (const e of validate.errors) {
          console.log(`  error: ${name} example ${example.name()}: ${e.instancePath || '/'} ${e.message}`);
        }
      }
    }
  }
  console.log(`  ${count} message examples checked against their payload schemas`);
  return bad;
}

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node validate.js FILE...');
    process.exit(2);
  }
  const parser = new Parser();
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    let ok = false;
    try {
      ok = await check(parser, file);
    } catch (e) {
      console.log(`  error: ${e && e.stack ? e.stack : e}`);
    }
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${file}`);
    if (ok) passed += 1;
    else failed += 1;
  }
  console.log(`asyncapi: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
