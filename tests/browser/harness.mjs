// What every browser test starts from: the server's URL and the test photo from the environment
// (set by the README's test command), and headless Chromium.
//   IMGPIPE_URL          the server's URL
//   IMGPIPE_TEST_PHOTOS  directory with chelsea.png (a real cat photo from scikit-image)
//   CHROMIUM_PATH        the browser (default /usr/bin/chromium)
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

/** The running server's URL (normalised, with a trailing slash); throws when unset. */
export function serverUrlFromEnv() {
  const url = process.env.IMGPIPE_URL;
  if (!url) {
    throw new Error("IMGPIPE_URL is not set. Start `imgpipe serve --port 0 --data DIR` and set IMGPIPE_URL to the URL it prints (the README's test command does this).");
  }
  return new URL(url).href;
}

/** The path of chelsea.png in IMGPIPE_TEST_PHOTOS; throws when it is not there. */
export function testPhoto() {
  const photo = path.join(process.env.IMGPIPE_TEST_PHOTOS || "", "chelsea.png");
  if (!fs.existsSync(photo)) {
    throw new Error(`IMGPIPE_TEST_PHOTOS must name a directory containing chelsea.png (got ${photo}).`);
  }
  return photo;
}

/** Headless Chromium, with `extraArgs` after the common flags. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", ...extraArgs],
  });
}
