// Sign-in for the page: OAuth 2.0 authorization code + PKCE (S256), no SDK, against Cognito's
// Hosted UI or imgpipe's local sign-in service (same endpoint shapes). Tokens live in memory and
// in sessionStorage (this tab only, gone when it closes) and are refreshed shortly before expiry.
//
//   const auth = createAuth({ authorizeUrl, tokenUrl, clientId, redirectUri, scopes, logoutUrl });
//   if (await auth.handleRedirect()) { /* just signed in */ }
//   const token = await auth.accessToken();   // null when signed out: call auth.signIn()
//   if (answer.status === 401 && await auth.forceRefresh()) { /* try once more */ }

const SESSION_KEY = "imgpipe.auth.session";
const PENDING_KEY = "imgpipe.auth.pending";
/** Refresh this long before the access token expires, so a request never carries a stale one. */
const REFRESH_MARGIN_MS = 60_000;

/** A sign-in failure: OAuth error code (e.g. "invalid_grant", "state_mismatch") and a message. */
export class AuthError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "AuthError";
    this.code = code;
  }
}

function base64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(byteCount) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function s256(text) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The claims of a JWT, for display only: the API checks the signature, the page never trusts them. */
function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch {
    return null;
  }
}

/**
 * @param {{authorizeUrl: string, tokenUrl: string, clientId: string, redirectUri: string,
 *          scopes?: string[], logoutUrl?: string, logoutRedirectUri?: string, revokeUrl?: string}} config
 */
export function createAuth(
  config,
  { storage = window.sessionStorage, location = window.location, history = window.history } = {},
) {
  // {accessToken, idToken, refreshToken, expiresAt}; anything else in storage is ignored.
  let session = readJson(storage, SESSION_KEY);
  if (typeof session?.accessToken !== "string" || typeof session.expiresAt !== "number") session = null;
  let refreshing = null;
  const listeners = new Set();

  function save(next) {
    session = next;
    if (next) storage.setItem(SESSION_KEY, JSON.stringify(next));
    else storage.removeItem(SESSION_KEY);
    for (const listener of listeners) listener(currentUser());
  }

  async function tokenRequest(fields) {
    let response;
    try {
      response = await fetch(config.tokenUrl, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams({ client_id: config.clientId, ...fields }),
      });
    } catch {
      throw new AuthError("network", "Could not reach the sign-in service.");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token) {
      throw new AuthError(body.error || `http_${response.status}`, body.error_description || "Sign-in failed.");
    }
    return body;
  }

  function sessionFrom(body, previous) {
    return {
      accessToken: body.access_token,
      idToken: body.id_token || previous?.idToken || null,
      // A refresh answer carries no new refresh token: keep the one we have.
      refreshToken: body.refresh_token || previous?.refreshToken || null,
      expiresAt: Date.now() + Number(body.expires_in || 0) * 1000,
    };
  }

  /** Goes to the sign-in page. `returnTo` (default: this page) is where handleRedirect sends the user back. */
  async function signIn({ returnTo = location.href } = {}) {
    const verifier = randomString(32);
    const state = randomString(16);
    storage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, returnTo }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: config.clientId,
      redirect_uri: config.redirectUri,
      scope: (config.scopes || ["openid"]).join(" "),
      state,
      code_challenge: await s256(verifier),
      code_challenge_method: "S256",
    });
    location.assign(`${config.authorizeUrl}?${query}`);
  }

  /**
   * On the page the sign-in service sent the browser back to: checks `state`, exchanges the code
   * and cleans the URL. Resolves true when this signed the user in, false when there was nothing
   * to handle; rejects with an AuthError on a refused or forged answer.
   */
  async function handleRedirect() {
    const params = new URLSearchParams(location.search);
    const code = params.get("code");
    const error = params.get("error");
    if (!code && !error) return false;
    const pending = readJson(storage, PENDING_KEY);
    storage.removeItem(PENDING_KEY);
    const clean = new URL(location.href);
    for (const name of ["code", "state", "error", "error_description"]) clean.searchParams.delete(name);
    history.replaceState(null, "", clean.pathname + clean.search + clean.hash);
    if (error) throw new AuthError(error, params.get("error_description") || "Sign-in was refused.");
    if (!pending || params.get("state") !== pending.state) {
      throw new AuthError("state_mismatch", "This sign-in answer was not requested by this tab.");
    }
    const body = await tokenRequest({
      grant_type: "authorization_code",
      code,
      redirect_uri: config.redirectUri,
      code_verifier: pending.verifier,
    });
    save(sessionFrom(body, null));
    const back = new URL(pending.returnTo || location.href, location.href);
    if (back.origin === location.origin && back.href !== location.href) history.replaceState(null, "", back.href);
    return true;
  }

  async function refresh() {
    try {
      const body = await tokenRequest({ grant_type: "refresh_token", refresh_token: session.refreshToken });
      save(sessionFrom(body, session));
    } catch (err) {
      // A refused refresh token means signing in again; a network failure leaves things as they are.
      if (err.code !== "network") save(null);
      throw err;
    }
  }

  /** A valid access token (refreshed first if it expires within a minute), or null when signed out. */
  async function accessToken() {
    if (!session) return null;
    if (session.expiresAt - Date.now() > REFRESH_MARGIN_MS) return session.accessToken;
    return (await refreshOnce()) ? session.accessToken : null;
  }

  /**
   * Refreshes the tokens, sharing one request between concurrent callers. Resolves true when a
   * session remains, false when the user has to sign in again; a network failure is thrown.
   */
  async function refreshOnce() {
    if (!session?.refreshToken) {
      save(null);
      return false;
    }
    refreshing ??= refresh().finally(() => {
      refreshing = null;
    });
    try {
      await refreshing;
    } catch (err) {
      if (err.code === "network") throw err;
      return false;
    }
    return Boolean(session);
  }

  /**
   * A new access token now, whatever the clock says (the API refused the one we have). Resolves
   * true when there is one, false when the user has to sign in again.
   */
  async function forceRefresh() {
    return refreshOnce();
  }

  /** Who is signed in: {username, email, sub}, read from the tokens for display, or null. */
  function currentUser() {
    if (!session) return null;
    const claims = claimsOf(session.idToken || "") || claimsOf(session.accessToken) || {};
    const email = typeof claims.email === "string" ? claims.email : "";
    return { username: claims["cognito:username"] || claims.username || "", email, sub: claims.sub || "" };
  }

  /** Forgets the tokens (revoking the refresh token when a revokeUrl is set) and goes to the sign-out page. */
  async function signOut() {
    const refreshToken = session?.refreshToken;
    save(null);
    if (config.revokeUrl && refreshToken) {
      const body = new URLSearchParams({ token: refreshToken, client_id: config.clientId });
      await fetch(config.revokeUrl, { method: "POST", body }).catch(() => {});
    }
    if (config.logoutUrl) {
      const query = new URLSearchParams({
        client_id: config.clientId,
        logout_uri: config.logoutRedirectUri || config.redirectUri,
      });
      location.assign(`${config.logoutUrl}?${query}`);
    }
  }

  /** Calls `listener(user)` whenever the signed-in user changes; returns a function that stops it. */
  function onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  return { signIn, handleRedirect, signOut, accessToken, forceRefresh, currentUser, onChange };
}
