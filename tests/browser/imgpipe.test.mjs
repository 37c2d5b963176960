// End-to-end test of the imgpipe page in headless Chromium against a running `imgpipe serve`.
//   IMGPIPE_URL          the server's URL (required)
//   IMGPIPE_TEST_PHOTOS  directory with chelsea.png (a real cat photo from scikit-image)
//   CHROMIUM_PATH        browser binary [/usr/bin/chromium]
//   IMGPIPE_BIN, IMGPIPE_DATA  the server's binary and data directory, to create the test's user (accounts.mjs)
// Accessibility is checked with axe-core, injected from node_modules (no network).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { launchChromium, serverUrlFromEnv, testPhoto } from "./harness.mjs";
import { createUser, signIn } from "./accounts.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const ARTIFACTS = path.resolve(HERE, "../../artifacts");
const FINAL = ["done", "rejected", "failed", "invalid"];
const PIPELINE_TIMEOUT = 180_000;
const KNOWN_REJECTIONS = ["UNSUPPORTED_FORMAT", "EMPTY", "TOO_LARGE", "TOO_SMALL", "DIMENSIONS_TOO_LARGE", "CORRUPT"];

describe("imgpipe page in headless Chromium", () => {
  let serverUrl;
  let photos;
  let browser;
  let context;
  let page;
  const requests = [];
  const storageOrigins = new Set();
  const pageErrors = [];
  let catImageId;
  let catConfidence;
  let scratch;
  let user;

  before(async () => {
    serverUrl = serverUrlFromEnv();
    photos = path.dirname(testPhoto());
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "imgpipe-browser-"));
    fs.mkdirSync(ARTIFACTS, { recursive: true });

    browser = await launchChromium(["--disable-quic", "--disable-component-update", "--disable-sync"]);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    watch(context);
    page = await context.newPage();
    // Keep file-chooser interception on from the start, so that a later waitForEvent("filechooser")
    // cannot race with the key press that opens it.
    page.on("filechooser", () => {});
    user = createUser("viewer");
    await signIn(page, serverUrl, user);
    await page.waitForSelector("#gallery-caption:not(:text-is('Loading recent images…'))");
  });

  after(async () => {
    await browser?.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  /** Record every request, the storage origins the API hands out, and script errors. */
  function watch(ctx) {
    ctx.on("request", (request) => requests.push(request.url()));
    ctx.on("response", async (response) => {
      const url = new URL(response.url());
      if (response.request().method() !== "POST" || !url.pathname.endsWith("/uploads")) return;
      try {
        const body = await response.json();
        if (body?.upload?.url) storageOrigins.add(new URL(body.upload.url).origin);
      } catch {
        // error answers have no upload URL
      }
    });
    ctx.on("page", (p) => {
      p.on("pageerror", (err) => pageErrors.push(String(err)));
      // The page runs under its Content-Security-Policy: anything it needs and the policy blocks is an error.
      p.on("console", (msg) => {
        if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
      });
    });
  }

  const uploadItem = (name) => page.locator(".upload-item", { has: page.locator(".upload-name", { hasText: name }) });

  async function waitForFinalStatus(item) {
    const handle = await item.elementHandle({ timeout: 10_000 });
    await page.waitForFunction(
      ([el, final]) => final.includes(el.dataset.status),
      [handle, FINAL],
      { timeout: PIPELINE_TIMEOUT, polling: 200 },
    );
    return item.getAttribute("data-status");
  }

  test("uploads chelsea.png through the file input, with progress, until done", async () => {
    await page.setInputFiles("#file-input", path.join(photos, "chelsea.png"));
    const item = uploadItem("chelsea.png");
    await item.waitFor({ timeout: 10_000 });
    const progress = item.locator("progress");
    assert.equal(await progress.count(), 1, "one progress bar for the file");
    assert.ok(await progress.isVisible(), "the progress bar is visible");

    const status = await waitForFinalStatus(item);
    const message = await item.locator(".upload-message").textContent();
    assert.equal(status, "done", `chelsea.png ended as ${status}: ${message}`);
    assert.equal(await progress.evaluate((el) => el.value), 100, "progress reached 100%");
    assert.match(message, /^Found: |^No labels found/, "the upload row says what was found");
    catImageId = await item.getAttribute("data-image-id");
    assert.ok(catImageId, "the row knows its image id");
  });

  test("the viewer shows the Cat label, its bounding boxes, facts and the timeline", async () => {
    assert.ok(catImageId, "needs the uploaded image");
    await uploadItem("chelsea.png").getByRole("link", { name: "View results" }).click();
    assert.equal(new URL(page.url()).hash, `#/images/${catImageId}`, "the viewer is deep-linkable");

    const catButton = page.locator(".label-button", { has: page.locator(".label-name", { hasText: /^Cat$/ }) });
    await catButton.waitFor({ timeout: 20_000 });
    const boxes = page.locator(".stage .bbox");
    assert.ok(await boxes.count() >= 1, "at least one bounding box is drawn");

    // The thumbnail really loaded from the signed URL.
    const img = page.locator(".picture-img");
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: 20_000 });
    assert.match(await img.getAttribute("alt"), /Cat/, "alt text names what the picture shows");

    // Hovering the Cat label highlights exactly its boxes.
    const index = await catButton.getAttribute("data-label-index");
    const catBoxes = page.locator(`.bbox[data-label-index="${index}"]`);
    assert.ok(await catBoxes.count() >= 1, "the Cat label has a box");
    await catButton.hover();
    assert.equal(await page.locator(".bbox.highlight").count(), await catBoxes.count(), "hovering Cat highlights its boxes");
    assert.equal(await page.locator(`.bbox.highlight:not([data-label-index="${index}"])`).count(), 0);
    // ...and hovering a box highlights its label.
    await page.mouse.move(0, 0);
    await catBoxes.first().hover();
    assert.ok(await catButton.evaluate((el) => el.classList.contains("highlight")), "hovering a box highlights its label");

    catConfidence = Number((await catButton.locator(".label-confidence").textContent()).replace("%", ""));
    assert.ok(catConfidence > 0 && catConfidence <= 100, `a confidence is shown (${catConfidence})`);

    const facts = await page.locator(".facts").textContent();
    assert.match(facts, /PNG/, "format shown");
    assert.match(facts, /451 × 300/, "dimensions of chelsea.png shown");

    await page.locator(".timeline-event").first().waitFor({ timeout: 20_000 });
    const states = await page.locator(".timeline-state").allTextContents();
    for (const state of ["Validate", "DetectLabels", "Thumbnail", "Persist"]) {
      assert.ok(states.includes(state), `timeline lists ${state} (got ${JSON.stringify(states)})`);
    }

    // Screenshot from a page of its own: a full-page capture resizes the page, which stops Chromium
    // from raising later file-chooser events on it.
    const shot = await context.newPage();
    try {
      // A new tab starts signed out (tokens live in the tab's sessionStorage).
      await signIn(shot, serverUrl, user);
      await shot.goto(`${serverUrl}#/images/${catImageId}`);
      await shot.locator(".timeline-event").first().waitFor({ timeout: 20_000 });
      // Only the images on show: a hidden gallery's lazy thumbnails never load, by design.
      await shot.waitForFunction(() =>
        [...document.images].filter((img) => img.offsetParent !== null).every((img) => img.complete));
      await shot.screenshot({ path: path.join(ARTIFACTS, "viewer.png"), fullPage: true });
    } finally {
      await shot.close();
    }
  });

  test("the drop zone opens the picker from the keyboard; a text file named .jpg is rejected in words", async () => {
    await page.bringToFront();
    await page.goto(`${serverUrl}#/`);
    const notes = path.join(scratch, "notes.jpg");
    fs.writeFileSync(notes, "These are meeting notes, not a photograph.\n".repeat(20));

    // The hint and the picker carry the server's own limits (GET /config), not copies of them.
    const config = await (await fetch(`${serverUrl}config`)).json();
    await page.waitForFunction((max) => document.getElementById("upload-hint").textContent.includes(max),
      `${Math.round(config.limits.maxBytes / 1048576)} MB`);
    assert.equal(await page.getAttribute("#file-input", "accept"), config.limits.contentTypes.join(","));

    await page.focus("#drop-zone");
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Enter")]);
    assert.ok(chooser.isMultiple(), "the picker accepts several files");
    await chooser.setFiles(notes);

    const item = uploadItem("notes.jpg");
    const status = await waitForFinalStatus(item);
    const message = (await item.locator(".upload-message").textContent()).trim();
    const code = await item.getAttribute("data-code");
    assert.equal(status, "rejected", `notes.jpg ended as ${status}: ${message}`);
    assert.ok(KNOWN_REJECTIONS.includes(code), `a rejection code from validate (got ${code})`);
    assert.notEqual(message, code);
    assert.match(message, /^[A-Z][^_]*\s[^_]*\.$/, `the reason is a sentence in words: ${message}`);
    assert.match(message, /JPEG|damaged|read/i, `the reason explains the problem: ${message}`);
  });

  test("a file that is not an image type is refused before anything is sent", async () => {
    const before = requests.length;
    await page.setInputFiles("#file-input", { name: "readme.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
    const item = uploadItem("readme.txt");
    await item.waitFor();
    assert.equal(await item.getAttribute("data-status"), "invalid");
    assert.match(await item.locator(".upload-message").textContent(), /Only JPEG, PNG, WebP and GIF/);
    await page.waitForTimeout(300);
    assert.ok(!requests.slice(before).some((url) => url.endsWith("/uploads")), "no upload was requested");
  });

  test("search by label Cat finds the photo, and a higher minimum confidence excludes it", async () => {
    assert.ok(catImageId && catConfidence, "needs the uploaded image");
    await page.fill("#search-label", "cat");
    await page.fill("#search-min", "50");
    await page.click("#search-form button[type=submit]");
    await page.waitForFunction(() => new URLSearchParams(location.hash.split("?")[1]).get("label") === "Cat");
    const found = page.locator(`.gallery-item[data-image-id="${catImageId}"]`);
    await found.waitFor({ timeout: 20_000 });
    assert.match(await found.textContent(), /Cat/);

    if (catConfidence < 99) {
      const above = Math.floor(catConfidence) + 1;
      await page.fill("#search-min", String(above));
      await page.click("#search-form button[type=submit]");
      await page.waitForFunction((min) => location.hash.endsWith(`min=${min}`), above);
      await page.waitForFunction(() => !document.querySelector("#gallery-grid[aria-busy]"));
      assert.equal(await found.count(), 0, `Cat at ${catConfidence}% is not listed for min ${above}%`);
    }

    await page.click("#search-clear");
    await page.locator(`.gallery-item[data-image-id="${catImageId}"]`).waitFor({ timeout: 20_000 });
  });

  test("axe-core finds no WCAG 2.1 A/AA problems on the gallery and the viewer", async () => {
    assert.ok(catImageId, "needs the uploaded image");
    // axe is injected as an inline script, which the page's CSP rightly blocks: audit in a context that
    // bypasses it (every other test runs the page under its CSP).
    const audit = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    try {
      const tab = await audit.newPage();
      await tab.goto(serverUrl);
      await tab.locator("#sign-in").waitFor();
      await tab.addScriptTag({ path: AXE });
      const signedOut = await tab.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
      assert.deepEqual(signedOut.violations.map((v) => v.id), [], "signed out: accessibility problems");
      await signIn(tab, serverUrl, user);
      for (const hash of ["#/", `#/images/${catImageId}`]) {
        await tab.goto(`${serverUrl}${hash}`);
        await tab.waitForFunction(() => !document.querySelector("[aria-busy]") && !document.querySelector(".loading"));
        await tab.addScriptTag({ path: AXE });
        const result = await tab.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
        const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
        assert.deepEqual(problems, [], `${hash}: accessibility problems`);
      }
    } finally {
      await audit.close();
    }
  });

  test("at phone width (375×800) nothing scrolls sideways", async () => {
    const phone = await browser.newContext({ viewport: { width: 375, height: 800 }, isMobile: true, hasTouch: true });
    watch(phone);
    try {
      const small = await phone.newPage();
      await signIn(small, serverUrl, user);
      for (const hash of ["#/", `#/images/${catImageId}`, "#/search?label=Cat&min=50"]) {
        await small.goto(`${serverUrl}${hash}`);
        await small.waitForLoadState("networkidle");
        if (hash.startsWith("#/images/")) await small.locator(".timeline-event").first().waitFor({ timeout: 20_000 });
        const { scrollWidth, clientWidth } = await small.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
        }));
        assert.ok(scrollWidth <= clientWidth, `${hash}: page is ${scrollWidth}px wide in a ${clientWidth}px viewport`);
      }
    } finally {
      await phone.close();
    }
  });

  test("the page talked only to the local server and the storage endpoint the API returned", () => {
    const allowed = new Set([new URL(serverUrl).origin, ...storageOrigins]);
    assert.ok(storageOrigins.size >= 1, "the API returned a storage upload URL");
    const outside = requests.filter((url) => {
      const parsed = new URL(url);
      if (parsed.protocol === "data:" || parsed.protocol === "blob:") return false;
      return !allowed.has(parsed.origin);
    });
    assert.deepEqual(outside, [], `requests outside ${[...allowed].join(", ")}`);
    assert.deepEqual(pageErrors, [], "no uncaught script errors");
  });
});
