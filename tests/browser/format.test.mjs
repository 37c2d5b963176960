// The page's formatting helpers (pure functions, no browser needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  REJECTION_REASONS, describeError, formatBytes, formatDuration, formatPercent, summaryNames,
} from "../../frontend/js/format.js";

test("sizes use binary units and drop a trailing .0", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(15 * 1024 * 1024), "15 MB");
  assert.equal(formatBytes(240512), "235 KB");
  assert.equal(formatBytes(-1), "unknown size");
  assert.equal(formatBytes("junk"), "unknown size");
});

test("durations and percentages read naturally", () => {
  assert.equal(formatDuration(340), "340 ms");
  assert.equal(formatDuration(2400), "2.40 s");
  assert.equal(formatDuration(65000), "1 min 5 s");
  assert.equal(formatDuration(null), "—");
  assert.equal(formatPercent(93.44), "93.4%");
  assert.equal(formatPercent(90), "90%");
});

test("rejection codes become sentences; unknown codes fall back to the server's message", () => {
  for (const code of ["UNSUPPORTED_FORMAT", "EMPTY", "TOO_LARGE", "TOO_SMALL", "DIMENSIONS_TOO_LARGE", "CORRUPT", "TOO_MANY_SCANS", "TOO_MANY_SEGMENTS"]) {
    const text = describeError({ code, message: `${code}: raw` });
    assert.equal(text, REJECTION_REASONS[code]);
    assert.match(text, /^[A-Z].*\.$/, `${code} is a sentence`);
  }
  assert.equal(describeError({ code: "States.Timeout", message: "The task timed out." }), "The task timed out.");
  assert.equal(describeError({ code: "X" }), "Something went wrong (X).");
  assert.equal(describeError(null), "Something went wrong.");
});

test("summaries name boxed objects before their parent labels", () => {
  const labels = [
    { name: "Animal", instances: [] },
    { name: "Pet" },
    { name: "Cat", instances: [{ boundingBox: {} }] },
    { name: "Couch", instances: [{ boundingBox: {} }] },
  ];
  assert.deepEqual(summaryNames(labels, 3), ["Cat", "Couch", "Animal"]);
  assert.deepEqual(summaryNames(undefined, 3), []);
});
