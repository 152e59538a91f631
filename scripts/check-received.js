#!/usr/bin/env node
// Checks the stdout of a seed client example for the echo of the text it sent.
//
//   node scripts/check-received.js json|inspect FILE
//
// json:    the Python example prints `Received: {json}`, one message per line.
// inspect: the JavaScript example prints `console.log('Received:', object)`, i.e.
//          node's util.inspect of the parsed message, possibly over several lines.
//          Such output of a JSON-born object is a JavaScript object literal, so it is
//          evaluated in an empty sandbox.
//
// Exits 0 when some record is a message with type text, content "Hello, world!",
// chat_id chat1 and user_id user1; otherwise prints what it saw and exits 1.
'use strict';
const fs = require('fs');
const vm = require('vm');

const [format, file] = process.argv.slice(2);
if (!['json', 'inspect'].includes(format) || !file) {
    console.error('usage: check-received.js json|inspect FILE');
    process.exit(2);
}

const want = { type: 'text', content: 'Hello, world!', chat_id: 'chat1', user_id: 'user1' };
const text = fs.readFileSync(file, 'utf8');
// Each record starts with "Received: " at the start of a line and runs to the next one.
const records = text.split(/^Received: /m).slice(1).map((r) => r.trim());

const parse = (record) => {
    try {
        return format === 'json'
            ? JSON.parse(record)
            : vm.runInNewContext(`(${record})`, Object.create(null), { timeout: 1000 });
    } catch (err) {
        return { unparsable: String(err) };
    }
};

const messages = records.map(parse);
const matches = messages.filter(
    (m) => m && typeof m === 'object' && Object.entries(want).every(([k, v]) => m[k] === v),
);
if (matches.length > 0) {
    console.log(`${records.length} "Received:" record(s), echo found with id ${matches[0].id}`);
    process.exit(0);
}
console.log(`no "Received:" record matched ${JSON.stringify(want)}; saw ${records.length}:`);
for (const m of messages) console.log('  ' + JSON.stringify(m));
process.exit(1);
