// Keeps chosen files across a sign-in: the sign-in page is a full navigation away from this one,
// so files whose upload stopped because the session ended are put in IndexedDB (this origin only)
// and taken back, once, after the user returns signed in. Each file is kept with the user who
// chose it: if someone else signs in next, the files are dropped, never uploaded to their account.

const DB = "imgpipe";
const STORE = "waiting-uploads";

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { autoIncrement: true });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** Stores `files` (File objects) chosen by user `owner` (a `sub`) until takeFiles(). Resolves false when the browser cannot keep them. */
export async function keepFiles(owner, files) {
  if (!owner || !files.length || typeof indexedDB === "undefined") return false;
  try {
    const db = await open();
    const transaction = db.transaction(STORE, "readwrite");
    for (const file of files) transaction.objectStore(STORE).add({ owner, file });
    await done(transaction);
    db.close();
    return true;
  } catch {
    return false;
  }
}

/** The files kept for user `owner` (empty when none); every kept file is removed from storage. */
export async function takeFiles(owner) {
  if (typeof indexedDB === "undefined") return [];
  try {
    const db = await open();
    const transaction = db.transaction(STORE, "readwrite");
    const store = transaction.objectStore(STORE);
    const all = store.getAll();
    store.clear();
    await done(transaction);
    db.close();
    return (all.result || []).filter((entry) => owner && entry?.owner === owner && entry.file instanceof File)
      .map((entry) => entry.file);
  } catch {
    return [];
  }
}
