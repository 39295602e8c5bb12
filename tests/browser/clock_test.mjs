// Unit check of the console's clock (controller/web/js/clock.js) under node: the
// controller's Date header decides "today" when the staff PC's clock is off.
//
//   node clock_test.mjs
import assert from 'node:assert/strict';
import { noteServerDate, serverNow } from '../../controller/web/js/clock.js';
import { today } from '../../controller/web/js/i18n.js';

const near = (a, b, ms) => assert.ok(Math.abs(a - b) <= ms, `${a} vs ${b} (±${ms} ms)`);

// No answer yet: the PC's clock.
near(serverNow(), Date.now(), 50);

// The controller is three hours ahead (the PC's clock is wrong): its time wins.
const ahead = Date.now() + 3 * 3600e3;
noteServerDate(new Date(ahead).toUTCString());
near(serverNow(), ahead, 1500);

// Across midnight in Beijing: "today" is the controller's day in the zone.
const beforeMidnight = Date.parse('2026-12-31T15:59:00Z'); // 23:59 in Beijing
noteServerDate(new Date(beforeMidnight + 2 * 60e3).toUTCString()); // 00:01 on 1 January
assert.equal(today('Asia/Shanghai'), '2027-01-01');

// Within two seconds of the controller: the PC keeps its own clock.
noteServerDate(new Date(Date.now()).toUTCString());
near(serverNow(), Date.now(), 50);

// A missing or broken header changes nothing.
noteServerDate(new Date(ahead).toUTCString());
const before = serverNow() - Date.now();
noteServerDate(null);
noteServerDate('not a date');
near(serverNow() - Date.now(), before, 50);

console.log("ok - the console takes the controller's time from its Date header");
