// Accounts for the browser tests: users are made with the real CLI (`imgpipe users add NAME
// --password-stdin --data DIR`; the running server reads its user file afresh on every sign-in),
// and signed in through the real sign-in form the page sends the browser to.
//   IMGPIPE_BIN   the imgpipe binary the server runs
//   IMGPIPE_DATA  the server's data directory
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";

/** Creates a user with a fresh name (prefix + random suffix) and password; returns {name, password, sub}. */
export function createUser(prefix) {
  const bin = process.env.IMGPIPE_BIN;
  const data = process.env.IMGPIPE_DATA;
  if (!bin || !data) {
    throw new Error("IMGPIPE_BIN and IMGPIPE_DATA must name the server's binary and data directory (scripts/test.sh sets them), so the test can create its users with `imgpipe users add`.");
  }
  const name = `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
  const password = `pw-${crypto.randomBytes(12).toString("base64url")}`;
  const run = spawnSync(bin, ["users", "add", name, "--password-stdin", "--data", data], {
    input: `${password}\n`, encoding: "utf8", timeout: 60_000,
  });
  assert.equal(run.status, 0, `imgpipe users add ${name} failed: ${run.stderr}`);
  const sub = /\(sub ([^)\s]+)\)/.exec(run.stdout)?.[1];
  assert.ok(sub, `imgpipe users add printed no sub: ${run.stdout}`);
  return { name, password, sub };
}

/**
 * Opens the page signed out, presses "Sign in", fills the sign-in service's form, and waits until
 * the page is back and says who is signed in.
 */
export async function signIn(page, serverUrl, user) {
  await page.goto(serverUrl);
  await page.locator("#sign-in").waitFor({ state: "visible", timeout: 15_000 });
  await page.click("#sign-in");
  await page.waitForURL((url) => url.pathname.endsWith("/oauth2/authorize"), { timeout: 15_000 });
  await page.fill("input[name=username]", user.name);
  await page.fill("input[name=password]", user.password);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(serverUrl) && !url.searchParams.has("code"), { timeout: 15_000 }),
    page.click("button[type=submit]"),
  ]);
  await page.locator("#account-name").filter({ hasText: user.name }).waitFor({ timeout: 15_000 });
}

/** Presses "Sign out" and waits for the page to come back signed out. */
export async function signOut(page) {
  await page.click("#sign-out");
  await page.locator("#sign-in").waitFor({ state: "visible", timeout: 15_000 });
}
