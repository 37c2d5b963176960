// Sign-in end to end in headless Chromium against a running `imgpipe serve`: the page signed out
// calls no API route; a user signs in through the local sign-in service's form (code + PKCE),
// uploads, sees the result, signs out; another user signs in and does not see it. A session the
// API refuses leads back to sign-in and keeps the chosen file, which uploads after signing in.
//   IMGPIPE_URL, IMGPIPE_TEST_PHOTOS, CHROMIUM_PATH  as in imgpipe.test.mjs
//   IMGPIPE_BIN, IMGPIPE_DATA                        to create the users (accounts.mjs)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { launchChromium, serverUrlFromEnv, testPhoto } from "./harness.mjs";
import { createUser, signIn, signOut } from "./accounts.mjs";

const PIPELINE_TIMEOUT = 180_000;
const FINAL = ["done", "rejected", "failed", "invalid"];
const SESSION_KEY = "imgpipe.auth.session";

describe("signing in to the imgpipe page", () => {
  let serverUrl;
  let photo;
  let browser;
  let page;
  let alice;
  let bob;
  let aliceImageId;
  const apiCalls = [];
  const pageErrors = [];

  before(async () => {
    serverUrl = serverUrlFromEnv();
    photo = testPhoto();
    alice = createUser("alice");
    bob = createUser("bob");
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.on("request", (request) => {
      const url = new URL(request.url());
      if (url.origin === new URL(serverUrl).origin && /^\/(images|uploads)(\/|$)/.test(url.pathname)) {
        apiCalls.push({ path: url.pathname, authorization: request.headers().authorization || "" });
      }
    });
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
    });
  });

  after(async () => {
    await browser?.close();
  });

  async function uploadAndWait(name) {
    const item = page.locator(".upload-item", { has: page.locator(".upload-name", { hasText: name }) });
    await item.waitFor({ timeout: 10_000 });
    const handle = await item.elementHandle();
    await page.waitForFunction(([el, final]) => final.includes(el.dataset.status), [handle, FINAL], {
      timeout: PIPELINE_TIMEOUT, polling: 200,
    });
    return item;
  }

  test("signed out, the page offers sign-in and calls no API route", async () => {
    await page.goto(serverUrl);
    await page.locator("#sign-in").waitFor({ state: "visible" });
    assert.ok(await page.locator("#app-panels").isHidden(), "uploads and gallery are hidden");
    assert.ok(await page.locator("#account").isHidden(), "nobody is shown as signed in");
    assert.match(await page.locator("#signed-out").textContent(), /Sign in/);
    await page.waitForTimeout(500);
    assert.deepEqual(apiCalls, [], "no /images or /uploads request while signed out");
  });

  test("alice signs in, uploads a photo and sees its result; every API call carries her token", async () => {
    await signIn(page, serverUrl, alice);
    assert.equal((await page.locator("#account-name").textContent()).trim(), alice.name);
    assert.ok(!new URL(page.url()).searchParams.has("code"), "the code is removed from the address");
    await page.setInputFiles("#file-input", photo);
    const item = await uploadAndWait("chelsea.png");
    assert.equal(await item.getAttribute("data-status"), "done", await item.locator(".upload-message").textContent());
    aliceImageId = await item.getAttribute("data-image-id");
    await page.locator(`.gallery-item[data-image-id="${aliceImageId}"]`).waitFor({ timeout: 20_000 });
    assert.ok(apiCalls.length > 0);
    for (const call of apiCalls) assert.match(call.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, call.path);
  });

  test("signing out forgets the tokens and shows the prompt again", async () => {
    await signOut(page);
    assert.equal(await page.evaluate((key) => sessionStorage.getItem(key), SESSION_KEY), null);
    assert.ok(await page.locator("#app-panels").isHidden());
    // Reloading stays signed out.
    const before = apiCalls.length;
    await page.reload();
    await page.locator("#sign-in").waitFor({ state: "visible" });
    await page.waitForTimeout(300);
    assert.equal(apiCalls.length, before, "no API call after signing out");
  });

  test("bob signs in and sees nothing of alice's", async () => {
    assert.ok(aliceImageId, "needs alice's upload");
    await signIn(page, serverUrl, bob);
    assert.equal((await page.locator("#account-name").textContent()).trim(), bob.name);
    await page.waitForFunction(() => !document.querySelector("#gallery-grid[aria-busy]"));
    await page.waitForFunction(() => !/Loading/.test(document.getElementById("gallery-caption").textContent));
    assert.equal(await page.locator(`.gallery-item[data-image-id="${aliceImageId}"]`).count(), 0);
    // Even by its id, alice's image does not exist for bob.
    await page.goto(`${serverUrl}#/images/${aliceImageId}`);
    await page.locator("#viewer-body").filter({ hasText: /There is no image with this id/ }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator(".picture-img").count(), 0, "no picture of alice's is shown");
  });

  test("a token the API refuses leads back to sign-in, and the chosen file uploads after it", async () => {
    await page.goto(`${serverUrl}#/`);
    // The stored session is bob's by its claims, but its signature and refresh token are forged:
    // the API and the sign-in service refuse it although the clock still calls it valid.
    const claims = Buffer.from(JSON.stringify({ sub: bob.sub, username: bob.name })).toString("base64url");
    await page.evaluate(([key, token]) => {
      sessionStorage.setItem(key, JSON.stringify({
        accessToken: token, idToken: null, refreshToken: "forged-refresh", expiresAt: Date.now() + 3_600_000,
      }));
    }, [SESSION_KEY, `eyJhbGciOiJSUzI1NiJ9.${claims}.Zm9yZ2Vk`]);
    await page.reload();
    await page.locator("#sign-in").waitFor({ state: "visible", timeout: 15_000 });
    assert.match(await page.locator("#signed-out-message").textContent(), /session has ended/i);

    await page.setInputFiles("#file-input", { name: "kept.png", mimeType: "image/png", buffer: fs.readFileSync(photo) });
    const kept = page.locator(".upload-item", { has: page.locator(".upload-name", { hasText: "kept.png" }) });
    await page.waitForFunction(() => document.querySelector(".upload-item")?.dataset.status === "signin");
    assert.equal(await kept.getAttribute("data-image-id"), null, "nothing was uploaded without a session");

    await page.click("#sign-in");
    await page.waitForURL((url) => url.pathname.endsWith("/oauth2/authorize"));
    await page.fill("input[name=username]", bob.name);
    await page.fill("input[name=password]", bob.password);
    await page.click("button[type=submit]");
    await page.locator("#account-name").filter({ hasText: bob.name }).waitFor({ timeout: 15_000 });
    const item = await uploadAndWait("kept.png");
    assert.equal(await item.getAttribute("data-status"), "done", await item.locator(".upload-message").textContent());
  });

  test("no script errors and nothing the page needs is blocked by its CSP", () => {
    assert.deepEqual(pageErrors, []);
  });
});
