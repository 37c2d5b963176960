// The execution console in headless Chromium: the list with its status filter, one execution's
// graph coloured by what happened and its event history, the links between the viewer and the
// console, and axe-core on both console views.
//   IMGPIPE_URL, IMGPIPE_BIN, IMGPIPE_DATA, IMGPIPE_TEST_PHOTOS, CHROMIUM_PATH  as in imgpipe.test.mjs
// A FAILED execution needs a server whose steps fail: the test starts its own `imgpipe serve` on a
// fresh data directory with IMGPIPE_FAULTS="detect-labels=2,thumbnail=4" (DetectLabels fails twice
// and is retried, Thumbnail fails more often than its Retry allows and is caught, RecordFailed
// stores the failure, and the execution ends in the Failed state). The variables a JSONata pipeline
// assigns need a server running statemachine/examples/pipeline.jsonata.asl.json (--definition).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { launchChromium, serverUrlFromEnv, testPhoto } from "./harness.mjs";
import { createUser, signIn } from "./accounts.mjs";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const PIPELINE_TIMEOUT = 180_000;
const FAULTS = "detect-labels=2,thumbnail=4";
const JSONATA_PIPELINE = fileURLToPath(new URL("../../statemachine/examples/pipeline.jsonata.asl.json", import.meta.url));

/** Starts `imgpipe serve --port 0 ...args` on a fresh data directory with `env`; resolves to {url, data, stop}. */
async function startServer(env, args = []) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), "imgpipe-console-"));
  const child = spawn(process.env.IMGPIPE_BIN, ["serve", "--port", "0", "--data", data, ...args], {
    env: { ...process.env, IMGPIPE_TIME_SCALE: "0.01", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => { log += chunk; });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`imgpipe serve printed no URL in 120 s:\n${log}`)), 120_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const found = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
      if (found) {
        clearTimeout(timer);
        resolve(found[0]);
      }
    });
    child.on("exit", (code) => reject(new Error(`imgpipe serve exited with ${code}:\n${log}`)));
  });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on("exit", resolve);
    child.kill("SIGINT");
  }).finally(() => fs.rmSync(data, { recursive: true, force: true }));
  return { url, data, stop };
}

/** A user on the server whose data directory is `data` (accounts.mjs reads IMGPIPE_DATA). */
function createUserIn(data, prefix) {
  const shared = process.env.IMGPIPE_DATA;
  process.env.IMGPIPE_DATA = data;
  try {
    return createUser(prefix);
  } finally {
    process.env.IMGPIPE_DATA = shared;
  }
}

/** Uploads chelsea.png from the page and waits until its row is final; returns the image id. */
async function uploadChelsea(page, photo) {
  await page.goto(page.url().split("#")[0] + "#/");
  await page.setInputFiles("#file-input", photo);
  const item = page.locator(".upload-item", { has: page.locator(".upload-name", { hasText: "chelsea.png" }) }).last();
  const handle = await item.elementHandle({ timeout: 10_000 });
  await page.waitForFunction((el) => ["done", "rejected", "failed"].includes(el.dataset.status), handle,
    { timeout: PIPELINE_TIMEOUT, polling: 250 });
  return { id: await item.getAttribute("data-image-id"), status: await item.getAttribute("data-status") };
}

async function outcomes(page) {
  return page.locator("svg.graph g.node").evaluateAll((nodes) =>
    Object.fromEntries(nodes.map((n) => [n.dataset.state, n.dataset.outcome])));
}

async function auditAxe(browser, url, user, hash, ready) {
  const audit = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  try {
    const tab = await audit.newPage();
    await signIn(tab, url, user);
    await tab.goto(`${url}${hash}`);
    await tab.locator(ready).first().waitFor({ timeout: 20_000 });
    await tab.waitForFunction(() => !document.querySelector("[aria-busy]") && !document.querySelector(".loading"));
    await tab.addScriptTag({ path: AXE });
    const result = await tab.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  } finally {
    await audit.close();
  }
}

describe("the execution console", () => {
  let serverUrl;
  let photo;
  let browser;
  let page;
  let user;
  let faulty;
  let faultyUser;
  let jsonata;
  let jsonataUser;
  let doneImage;
  let failedImage;
  let doneExecution;
  let failedExecution;
  const pageErrors = [];

  before(async () => {
    serverUrl = serverUrlFromEnv();
    photo = testPhoto();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.on("page", (p) => {
      p.on("pageerror", (err) => pageErrors.push(String(err)));
      p.on("console", (msg) => {
        if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
      });
    });
    page = await context.newPage();
    user = createUser("console");
    faulty = await startServer({ IMGPIPE_FAULTS: FAULTS });
    faultyUser = createUserIn(faulty.data, "faulty");
    jsonata = await startServer({}, ["--definition", JSONATA_PIPELINE]);
    jsonataUser = createUserIn(jsonata.data, "jsonata");
  });

  after(async () => {
    await browser?.close();
    await faulty?.stop();
    await jsonata?.stop();
  });

  test("a SUCCEEDED upload is listed, drawn and explained", async () => {
    await signIn(page, serverUrl, user);
    const upload = await uploadChelsea(page, photo);
    assert.equal(upload.status, "done");
    doneImage = upload.id;

    await page.click("#nav-executions");
    const row = page.locator("tr.execution-row").first();
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await page.locator("tr.execution-row").count(), 1, "a new user has exactly one execution");
    assert.equal(await row.getAttribute("data-status"), "SUCCEEDED");
    assert.match(await row.textContent(), /chelsea\.png/, "the row names the image");
    assert.match(await row.locator("td").nth(3).textContent(), /\d+(\.\d+)? (ms|s)/, "a duration");
    doneExecution = await row.getAttribute("data-name");

    await row.locator("a.execution-link").click();
    await page.locator("svg.graph g.node").first().waitFor({ timeout: 20_000 });
    assert.equal(new URL(page.url()).hash, `#/executions/${doneExecution}`);
    const drawn = await outcomes(page);
    for (const state of ["Validate", "DetectLabels", "Thumbnail", "Persist"]) {
      assert.equal(drawn[state], "SUCCEEDED", `${state} succeeded (${JSON.stringify(drawn)})`);
    }
    for (const state of ["RecordFailed", "Failed", "RecordRejected", "Duplicate"]) {
      assert.equal(drawn[state], "NOT_REACHED", `${state} was not reached`);
    }
    // The colours come from the outcome: a succeeded box and a not-reached box differ.
    const stroke = (state) => page.locator(`g.node[data-state="${state}"] rect`).evaluate((r) => getComputedStyle(r).stroke);
    assert.notEqual(await stroke("Persist"), await stroke("Failed"));
    assert.ok(await page.locator("path.edge.taken").count() >= 3, "the path taken is drawn");

    const types = await page.locator(".history-event").evaluateAll((events) => events.map((e) => e.dataset.type));
    assert.equal(types[0], "ExecutionStarted");
    assert.equal(types.at(-1), "ExecutionSucceeded");
    const started = page.locator('.history-event[data-type="ExecutionStarted"] details.payload[data-kind="input"]');
    await started.locator("summary").click();
    const input = await started.locator("pre").textContent();
    assert.ok(input.includes(`uploads/${doneImage}.png`), "the input is the S3 event naming the upload");
    assert.doesNotMatch(await page.locator("#console-body").textContent(), /arn:aws|000000000000/, "no ARNs or account ids");

    // ...and from the execution to its image and back.
    await page.locator("#console-body a.image-link").click();
    await page.locator(".timeline-event").first().waitFor({ timeout: 20_000 });
    assert.equal(new URL(page.url()).hash, `#/images/${doneImage}`);
    await page.locator("a.execution-open").click();
    await page.locator("svg.graph").waitFor({ timeout: 20_000 });
    assert.equal(new URL(page.url()).hash, `#/executions/${doneExecution}`);
  });

  test("a FAILED execution shows the retried, caught and failed states, its errors and retries", async () => {
    const tab = await browser.newPage();
    tab.on("pageerror", (err) => pageErrors.push(String(err)));
    try {
      await signIn(tab, faulty.url, faultyUser);
      const upload = await uploadChelsea(tab, photo);
      assert.equal(upload.status, "failed", "the faults make the upload fail");
      failedImage = upload.id;

      await tab.goto(`${faulty.url}#/images/${failedImage}`);
      await tab.locator("a.execution-open").click();
      await tab.locator("svg.graph g.node").first().waitFor({ timeout: 20_000 });
      failedExecution = decodeURIComponent(new URL(tab.url()).hash.replace("#/executions/", ""));
      assert.match(await tab.locator("#console-body .viewer-status").textContent(), /Failed/);
      assert.equal(await tab.locator("#console-body .viewer-reason").getAttribute("data-code"), "STEP_FAILED");

      const drawn = await outcomes(tab);
      assert.equal(drawn.Validate, "SUCCEEDED");
      assert.equal(drawn.DetectLabels, "RETRIED", "DetectLabels failed twice, then succeeded");
      assert.equal(drawn.Thumbnail, "CAUGHT", "Thumbnail ran out of retries and was caught");
      assert.equal(drawn.RecordFailed, "SUCCEEDED");
      assert.equal(drawn.Failed, "FAILED");
      assert.equal(drawn.Persist, "NOT_REACHED");
      assert.match(await tab.locator('g.node[data-state="DetectLabels"] title').textContent(), /3 attempts/);

      const retries = await tab.locator('.history-event.retry[data-state="DetectLabels"] .history-attempt').allTextContents();
      assert.deepEqual(retries, ["Attempt 2 (retry 1)", "Attempt 3 (retry 2)"]);
      const errors = tab.locator('.history-event.failed[data-state="Thumbnail"] .history-error');
      assert.equal(await errors.count(), 4, "each failed Thumbnail attempt is in the history");
      assert.equal(await errors.first().getAttribute("data-code"), "STEP_FAILED");
      const text = await tab.locator("#console-body").textContent();
      assert.doesNotMatch(text, /injected fault|IMGPIPE_FAULTS|arn:aws|Retryable:/, "no causes, ARNs or raw error names");
      // Payloads are text: a payload's markup-looking content would stay text (no element made from it).
      assert.equal(await tab.locator("#console-body pre *:not(code)").count(), 0);

      // The filter: FAILED lists it, SUCCEEDED does not.
      await tab.goto(`${faulty.url}#/executions`);
      await tab.locator("tr.execution-row").first().waitFor({ timeout: 20_000 });
      await tab.selectOption("#console-status", "FAILED");
      await tab.waitForFunction(() => location.hash === "#/executions?status=FAILED");
      await tab.locator(`tr.execution-row[data-name="${failedExecution}"]`).waitFor({ timeout: 20_000 });
      await tab.selectOption("#console-status", "SUCCEEDED");
      await tab.waitForFunction(() => location.hash === "#/executions?status=SUCCEEDED"
        && !document.querySelector("#console-rows[aria-busy]") && /No succeeded/.test(document.getElementById("console-caption").textContent));
      assert.equal(await tab.locator("tr.execution-row").count(), 0);
    } finally {
      await tab.close();
    }
  });

  test("a JSONata pipeline's execution shows the variables each state assigned, as text", async () => {
    const tab = await browser.newPage();
    tab.on("pageerror", (err) => pageErrors.push(String(err)));
    try {
      await signIn(tab, jsonata.url, jsonataUser);
      const upload = await uploadChelsea(tab, photo);
      assert.equal(upload.status, "done");
      await tab.goto(`${jsonata.url}#/images/${upload.id}`);
      await tab.locator("a.execution-open").click();
      await tab.locator("svg.graph g.node").first().waitFor({ timeout: 20_000 });
      const drawn = await outcomes(tab);
      for (const state of ["Validate", "DetectLabels", "Thumbnail", "Persist"]) {
        assert.equal(drawn[state], "SUCCEEDED", `${state} succeeded (${JSON.stringify(drawn)})`);
      }
      const variables = async (state) => {
        const shown = tab.locator(`.history-event[data-type="TaskStateExited"][data-state="${state}"] details.payload[data-kind="variables"]`);
        await shown.locator("summary").click();
        return JSON.parse(await shown.locator("pre").textContent());
      };
      const image = await variables("Validate");
      assert.deepEqual([image.image.width, image.image.height], [451, 300], "Validate assigned the image it read");
      const labels = await variables("DetectLabels");
      assert.ok(JSON.stringify(labels.labels).includes("Cat"), "DetectLabels assigned the labels");
      assert.equal(await tab.locator('.history-event[data-state="Persist"] details.payload[data-kind="variables"]').count(), 0,
        "Persist assigns nothing");
      assert.doesNotMatch(await tab.locator("#console-body").textContent(), /arn:aws|000000000000/, "no ARNs or account ids");
      assert.equal(await tab.locator("#console-body pre *:not(code)").count(), 0);
    } finally {
      await tab.close();
    }
  });

  test("another user sees none of these executions", async () => {
    assert.ok(doneExecution, "needs the first test's execution");
    const other = createUser("console-other");
    const tab = await browser.newPage();
    try {
      await signIn(tab, serverUrl, other);
      await tab.goto(`${serverUrl}#/executions`);
      await tab.waitForFunction(() => /No executions/.test(document.getElementById("console-caption")?.textContent || ""));
      await tab.goto(`${serverUrl}#/executions/${doneExecution}`);
      await tab.locator("#console-body .error").waitFor({ timeout: 20_000 });
      assert.match(await tab.locator("#console-body .error").textContent(), /no execution with this name/);
    } finally {
      await tab.close();
    }
  });

  test("axe-core finds no WCAG 2.1 A/AA problems on the console's list and execution views", async () => {
    assert.ok(doneExecution && failedExecution, "needs both executions");
    for (const [url, who, hash, ready] of [
      [serverUrl, user, "#/executions", "tr.execution-row"],
      [serverUrl, user, `#/executions/${doneExecution}`, "svg.graph"],
      [faulty.url, faultyUser, `#/executions/${failedExecution}`, "svg.graph"],
    ]) {
      assert.deepEqual(await auditAxe(browser, url, who, hash, ready), [], `${hash}: accessibility problems`);
    }
  });

  test("at phone width the console does not scroll sideways", async () => {
    const phone = await browser.newContext({ viewport: { width: 375, height: 800 }, isMobile: true, hasTouch: true });
    try {
      const small = await phone.newPage();
      await signIn(small, serverUrl, user);
      for (const [hash, ready] of [["#/executions", "tr.execution-row"], [`#/executions/${doneExecution}`, "svg.graph"]]) {
        await small.goto(`${serverUrl}${hash}`);
        await small.locator(ready).first().waitFor({ timeout: 20_000 });
        const { scrollWidth, clientWidth } = await small.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
        }));
        assert.ok(scrollWidth <= clientWidth, `${hash}: page is ${scrollWidth}px wide in a ${clientWidth}px viewport`);
      }
    } finally {
      await phone.close();
    }
    assert.deepEqual(pageErrors, [], "no uncaught script errors");
  });
});
