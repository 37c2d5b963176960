// Formatting of numbers, sizes, dates and server codes for people.

/** Bytes as "1.4 MB" (binary units, as the server's limits are). */
export function formatBytes(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return "unknown size";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, "");
  return `${digits} ${units[unit]}`;
}

/** A confidence 0–100 as "97.3%". */
export function formatPercent(value) {
  const n = Number(value);
  if (!Number.isFinite(n)) return "?";
  return `${n.toFixed(n >= 99.95 || n === Math.round(n) ? 0 : 1)}%`;
}

/** A duration in ms as "340 ms", "2.4 s" or "1 min 5 s". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || ms === "") return "—";
  const n = Number(ms);
  if (!Number.isFinite(n) || n < 0) return "—";
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60000) return `${(n / 1000).toFixed(n < 10000 ? 2 : 1)} s`;
  const minutes = Math.floor(n / 60000);
  return `${minutes} min ${Math.round((n % 60000) / 1000)} s`;
}

/** An RFC 3339 timestamp in the reader's locale, or the raw text when it does not parse. */
export function formatTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

const ORIENTATIONS = {
  1: "1 — upright as stored",
  2: "2 — mirrored left to right",
  3: "3 — rotate 180° to view",
  4: "4 — mirrored top to bottom",
  5: "5 — mirrored and turned (transpose)",
  6: "6 — rotate 90° clockwise to view",
  7: "7 — mirrored and turned (transverse)",
  8: "8 — rotate 90° counter-clockwise to view",
};

/** EXIF orientation 1–8 described in words. */
export function describeOrientation(value) {
  if (value === null || value === undefined) return "none (upright)";
  return ORIENTATIONS[value] ?? String(value);
}

/** Words for the record statuses, shared by every panel. */
export const STATUS_WORDS = { PENDING: "Processing", DONE: "Done", REJECTED: "Rejected", FAILED: "Failed" };

/** Friendly sentences for the pipeline's rejection codes (the server's own message is the fallback). */
export const REJECTION_REASONS = {
  UNSUPPORTED_FORMAT: "This file isn't a picture we can read. Please upload a JPEG, PNG, WebP or GIF image.",
  UNSUPPORTED_TYPE: "Only JPEG, PNG, WebP and GIF images can be uploaded.",
  EMPTY: "The file is empty — there is no picture in it.",
  TOO_LARGE: "The file is bigger than the upload limit.",
  TOO_SMALL: "The picture is too small to recognise anything in it.",
  DIMENSIONS_TOO_LARGE: "The picture has more pixels than the pipeline takes.",
  CORRUPT: "The file looks damaged or incomplete, so the picture couldn't be decoded.",
  TOO_MANY_SCANS: "The JPEG is built from far more progressive scans than a camera or editor writes.",
  TOO_MANY_SEGMENTS: "The file holds far more metadata blocks than a real image has.",
};

/** Words for an {code, message} error from the server: the friendly sentence when known, else its message. */
export function describeError(error) {
  if (!error || typeof error !== "object") return "Something went wrong.";
  const friendly = REJECTION_REASONS[error.code];
  if (friendly) return friendly;
  if (typeof error.message === "string" && error.message.trim() !== "") return error.message;
  return error.code ? `Something went wrong (${error.code}).` : "Something went wrong.";
}

/** Names of labels given as strings or objects with a `name`. */
export function labelName(label) {
  if (typeof label === "string") return label;
  if (label && typeof label === "object" && typeof label.name === "string") return label.name;
  return "";
}

/** Label names for a summary: labels with boxes (the objects seen) first, then the rest, in order. */
export function summaryNames(labels, count) {
  const list = Array.isArray(labels) ? labels : [];
  const boxed = list.filter((l) => Array.isArray(l?.instances) && l.instances.length > 0);
  const rest = list.filter((l) => !boxed.includes(l));
  return [...boxed, ...rest].map(labelName).filter(Boolean).slice(0, count);
}
