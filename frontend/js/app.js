// Entry point: reads GET /config, signs the user in (code + PKCE, see auth.js), then wires the
// panels and routes on the URL hash. Signed out, the page shows only a sign-in prompt and calls
// no API route.
//   #/                         upload + recent images
//   #/search?label=Cat&min=90  upload + search results
//   #/images/<id>              upload + viewer for one image
//   #/executions?status=FAILED the execution console's list (console.js)
//   #/executions/<name>        one execution: graph and event history
import { getConfig, useAuth } from "./api.js";
import { createAuth } from "./auth.js";
import { announce } from "./dom.js";
import { showExecution, showExecutions } from "./console.js";
import { describeError } from "./format.js";
import { initGallery, refreshIfRecent, showRecent, showSearch } from "./gallery.js";
import { keepFiles, takeFiles } from "./stash.js";
import { initUpload } from "./upload.js";
import { closeViewer, showImage } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const viewer = $("viewer");
const gallery = $("gallery");
const upload = $("upload");
const consolePanel = $("console");

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

/** Marks the section link of the page on show (`aria-current`). */
function markSection(inConsole) {
  for (const [id, current] of [["nav-gallery", !inConsole], ["nav-executions", inConsole]]) {
    if (current) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
}

/** The console routes; true when `hash` was one. */
function routeConsole(hash) {
  const [path, queryText = ""] = hash.split("?");
  const match = /^\/executions(?:\/([^/?#]+))?$/.exec(path);
  markSection(Boolean(match));
  consolePanel.hidden = !match;
  upload.hidden = Boolean(match);
  if (!match) return false;
  closeViewer();
  gallery.hidden = true;
  viewer.hidden = true;
  if (match[1]) {
    let name;
    try {
      name = decodeURIComponent(match[1]);
    } catch {
      name = match[1];
    }
    showExecution(name);
  } else {
    showExecutions(new URLSearchParams(queryText).get("status") || "");
  }
  $("console-heading").focus({ preventScroll: false });
  return true;
}

function route() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  if (routeConsole(hash)) return;
  const imageMatch = /^\/images\/([^/?#]+)$/.exec(hash);
  if (imageMatch) {
    let id;
    try {
      id = decodeURIComponent(imageMatch[1]);
    } catch {
      id = imageMatch[1];
    }
    gallery.hidden = true;
    viewer.hidden = false;
    showImage(id);
    $("viewer-heading").focus({ preventScroll: false });
    return;
  }

  closeViewer();
  viewer.hidden = true;
  gallery.hidden = false;
  const [path, queryText = ""] = hash.split("?");
  const params = new URLSearchParams(queryText);
  if (path === "/search" && params.get("label")) {
    showSearch(params.get("label"), params.get("min") ?? 50);
  } else {
    showRecent();
  }
}

/** Shows the sign-in prompt (with `message`) instead of the panels. */
function showSignedOut(message) {
  $("app-panels").hidden = true;
  $("account").hidden = true;
  $("site-nav").hidden = true;
  $("signed-out").hidden = false;
  $("signed-out-message").textContent = message;
}

function showSignedIn(user) {
  $("signed-out").hidden = true;
  $("account-name").textContent = user ? (user.email || user.username || "you") : "";
  $("account").hidden = !user;
  $("site-nav").hidden = false;
  $("app-panels").hidden = false;
}

/** The panels, once: uploads, gallery and viewer. */
let panelsStarted = false;
let uploads = null;
function startPanels(config) {
  if (panelsStarted) return;
  panelsStarted = true;
  uploads = initUpload({ limits: config.limits, onFinished: () => refreshIfRecent() });
  initGallery({ navigate });
  window.addEventListener("hashchange", route);
  route();
}

function pageUrl() {
  return `${window.location.origin}/`;
}

async function main() {
  let config;
  try {
    config = await getConfig();
  } catch (err) {
    showSignedOut(`The page couldn't load its settings: ${describeError(err)} Reload to try again.`);
    $("sign-in").hidden = true;
    return;
  }
  if (!config.auth) {
    // No sign-in configured: the API takes calls as they are.
    showSignedIn(null);
    startPanels(config);
    return;
  }

  const auth = createAuth({
    authorizeUrl: config.auth.authorizeUrl,
    tokenUrl: config.auth.tokenUrl,
    revokeUrl: config.auth.revokeUrl,
    logoutUrl: config.auth.logoutUrl,
    clientId: config.auth.clientId,
    scopes: config.auth.scopes,
    redirectUri: pageUrl(),
  });
  let sessionEnded = false;
  let lastUser = auth.currentUser();
  useAuth({
    accessToken: () => auth.accessToken(),
    forceRefresh: () => auth.forceRefresh(),
    unauthorized: () => {
      if (sessionEnded) return;
      sessionEnded = true;
      showSignedOut("Your session has ended. Sign in again to continue.");
      announce("Your session has ended. Sign in again to continue.");
      $("sign-in").focus();
    },
  });

  $("sign-in").addEventListener("click", async () => {
    // Files stopped by the ended session come back after sign-in (for the same user only).
    const waiting = uploads ? uploads.waitingFiles() : [];
    if (waiting.length && lastUser) await keepFiles(lastUser.sub, waiting);
    await auth.signIn({ returnTo: window.location.href });
  });
  $("sign-out").addEventListener("click", () => auth.signOut());

  try {
    await auth.handleRedirect();
  } catch (err) {
    showSignedOut(`Sign-in did not complete: ${err.message} Try again.`);
    return;
  }
  let token = null;
  try {
    token = await auth.accessToken();
  } catch {
    showSignedOut("The sign-in service could not be reached. Check your connection, then sign in.");
    return;
  }
  if (!token) {
    showSignedOut("Sign in to upload photos and see your own.");
    return;
  }
  lastUser = auth.currentUser();
  auth.onChange((user) => {
    if (user) lastUser = user;
  });
  showSignedIn(lastUser);
  startPanels(config);
  const kept = await takeFiles(lastUser?.sub);
  if (kept.length) uploads.addFiles(kept);
}

main();
