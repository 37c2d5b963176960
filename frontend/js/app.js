// Entry point: wires the panels and routes on the URL hash.
//   #/                         upload + recent images
//   #/search?label=Cat&min=90  upload + search results
//   #/images/<id>              upload + viewer for one image
import { initGallery, refreshIfRecent, showRecent, showSearch } from "./gallery.js";
import { initUpload } from "./upload.js";
import { closeViewer, showImage } from "./viewer.js";

const viewer = document.getElementById("viewer");
const gallery = document.getElementById("gallery");

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function route() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
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
    document.getElementById("viewer-heading").focus({ preventScroll: false });
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

initUpload({ onFinished: () => refreshIfRecent() });
initGallery({ navigate });
window.addEventListener("hashchange", route);
route();
