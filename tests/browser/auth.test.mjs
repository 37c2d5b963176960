// The page's sign-in module (frontend/js/auth.js) without a browser: the authorization request it
// builds (PKCE S256, state) and the answers it refuses before any token request. The token
// exchange itself is tested against the real sign-in service in signin.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { createAuth } from "../../frontend/js/auth.js";

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(key) { return this.items.has(key) ? this.items.get(key) : null; }
  setItem(key, value) { this.items.set(key, String(value)); }
  removeItem(key) { this.items.delete(key); }
}

/** A location and history that record where the page was sent. */
function fakeWindow(href) {
  const location = {
    href,
    get search() { return new URL(this.href).search; },
    get origin() { return new URL(this.href).origin; },
    assigned: [],
    assign(url) { this.assigned.push(url); },
  };
  const history = { replaceState(_state, _title, url) { location.href = new URL(url, location.href).href; } };
  return { storage: new MemoryStorage(), location, history };
}

const CONFIG = {
  authorizeUrl: "https://signin.example/oauth2/authorize",
  tokenUrl: "https://signin.example/oauth2/token",
  clientId: "client1",
  redirectUri: "https://page.example/",
  scopes: ["openid", "imgpipe/images"],
};

test("sign-in sends the browser to the authorize URL with an S256 challenge of a fresh verifier", async () => {
  const win = fakeWindow("https://page.example/#/search?label=Cat");
  const auth = createAuth(CONFIG, win);
  await auth.signIn();
  const url = new URL(win.location.assigned[0]);
  assert.equal(url.origin + url.pathname, CONFIG.authorizeUrl);
  const q = url.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), "client1");
  assert.equal(q.get("redirect_uri"), "https://page.example/");
  assert.equal(q.get("scope"), "openid imgpipe/images");
  assert.equal(q.get("code_challenge_method"), "S256");
  const pending = JSON.parse(win.storage.getItem("imgpipe.auth.pending"));
  assert.ok(pending.verifier.length >= 43, "the verifier has at least 256 bits");
  assert.equal(q.get("code_challenge"), crypto.createHash("sha256").update(pending.verifier).digest("base64url"));
  assert.equal(q.get("state"), pending.state);
  assert.equal(pending.returnTo, "https://page.example/#/search?label=Cat");

  // A second sign-in uses a new verifier and state.
  await auth.signIn();
  const again = new URL(win.location.assigned[1]).searchParams;
  assert.notEqual(again.get("state"), q.get("state"));
  assert.notEqual(again.get("code_challenge"), q.get("code_challenge"));
});

test("an answer this tab did not ask for is refused before any token request", async () => {
  const original = globalThis.fetch;
  let fetched = 0;
  globalThis.fetch = async () => { fetched += 1; throw new Error("no token request expected"); };
  try {
    for (const search of ["?code=abc&state=forged", "?code=abc"]) {
      const win = fakeWindow(`https://page.example/${search}`);
      win.storage.setItem("imgpipe.auth.pending", JSON.stringify({ state: "mine", verifier: "v".repeat(43) }));
      const auth = createAuth(CONFIG, win);
      await assert.rejects(auth.handleRedirect(), { code: "state_mismatch" });
      assert.equal(win.location.href, "https://page.example/", "the code is removed from the address");
      assert.equal(win.storage.getItem("imgpipe.auth.pending"), null, "the pending request is used up");
    }
    const refused = fakeWindow("https://page.example/?error=access_denied&error_description=No");
    await assert.rejects(createAuth(CONFIG, refused).handleRedirect(), { code: "access_denied" });
    assert.equal(fetched, 0);
  } finally {
    globalThis.fetch = original;
  }
});

test("a stored session that is malformed counts as signed out", async () => {
  for (const stored of ["not json", "{\"accessToken\":5}", "[]", "null"]) {
    const win = fakeWindow("https://page.example/");
    win.storage.setItem("imgpipe.auth.session", stored);
    const auth = createAuth(CONFIG, win);
    assert.equal(auth.currentUser(), null, stored);
    assert.equal(await auth.accessToken(), null, stored);
  }
});

test("who is signed in is read from the ID token for display", () => {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const win = fakeWindow("https://page.example/");
  win.storage.setItem("imgpipe.auth.session", JSON.stringify({
    accessToken: `${part({ alg: "RS256" })}.${part({ sub: "s1", username: "u1" })}.sig`,
    idToken: `${part({ alg: "RS256" })}.${part({ sub: "s1", "cognito:username": "u1", email: "a@example.com" })}.sig`,
    refreshToken: null,
    expiresAt: Date.now() + 3_600_000,
  }));
  assert.deepEqual(createAuth(CONFIG, win).currentUser(), { username: "u1", email: "a@example.com", sub: "s1" });
});
