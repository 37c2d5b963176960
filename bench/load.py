#!/usr/bin/env python3
"""Reliability load harness: drives a real `imgpipe serve` through its API as the page does
(POST /uploads, the signed multipart POST to the S3 endpoint, polling GET /images/{id}) with
many concurrent clients, and checks that nothing is lost or duplicated.

Runs (each on a fresh data directory):
  plain   -- no faults;
  kill    -- the server is killed with SIGKILL at random moments and restarted on the same data
             directory and port (so access tokens stay valid);
  faults  -- the embedded S3 and DynamoDB answer a share of requests with the errors AWS returns
             under stress (IMGPIPE_S3_FAULTS, IMGPIPE_DYNAMODB_FAULTS).

For each: every acknowledged upload final (DONE/REJECTED/FAILED), one image item per upload and
label items consistent with the records (read back through GET /images and GET /images?label=),
the API's 5xx answers, throughput, upload-to-final latency p50/p95/p99, the server's peak RSS
(VmHWM). Writes its section of docs/performance.md between markers, leaving the rest intact.

Standard library only. Called by bench/load.sh, which builds the binary and finds the photos.
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
USER, PASSWORD = "bench", "bench-password-not-a-secret"
FINAL = {"DONE", "REJECTED", "FAILED"}
BEGIN, END = "<!-- bench/load.py: begin -->", "<!-- bench/load.py: end -->"
TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def log(msg):
    print(f"[load.py {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the server


class Server:
    """`imgpipe serve --port PORT --data DIR`, restartable on the same port and data."""

    def __init__(self, binary, model, data, port, env):
        self.binary, self.data, self.port = binary, data, port
        self.env = dict(os.environ, IMGPIPE_MODEL=model, NO_COLOR="1", **env)
        for name in ("IMGPIPE_FAULTS", "IMGPIPE_TIME_SCALE", "IMGPIPE_DATA", "RUST_LOG"):
            self.env.pop(name, None)
        self.proc = None
        self.peak_rss = 0
        self.starts = 0
        self.log_path = os.path.join(data, "serve.log")
        self.url = f"127.0.0.1:{port}"
        os.makedirs(data, exist_ok=True)
        self.users("add", USER, "--password-stdin")

    def users(self, *args):
        out = subprocess.run(
            [self.binary, "users", *args, "--data", self.data],
            input=PASSWORD + "\n", capture_output=True, text=True, env=self.env, timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(f"imgpipe users {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def start(self):
        logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--data", self.data],
            stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL, text=True, env=self.env,
        )
        logf.close()
        deadline = time.time() + 120
        for line in self.proc.stdout:
            if "imgpipe is running at" in line:
                break
            if time.time() > deadline:
                break
        else:
            raise RuntimeError(f"imgpipe serve exited early; see {self.log_path}")
        # Keep reading stdout so the child never blocks on a full pipe.
        threading.Thread(target=lambda out=self.proc.stdout: [None for _ in out], daemon=True).start()
        self.starts += 1

    def note_rss(self):
        if self.proc is None:
            return
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss = max(self.peak_rss, int(line.split()[1]) * 1024)
        except OSError:
            pass

    def kill9(self):
        self.note_rss()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.note_rss()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def injected_faults(self):
        """The counts the server logged at its last graceful stop (dependency faults)."""
        try:
            text = open(self.log_path, errors="replace").read()
        except OSError:
            return None
        found = [line for line in text.splitlines() if "dependency faults injected" in line]
        if not found:
            return None
        s3, _, dynamodb = found[-1].partition("dynamodb=")
        counts = {f"S3 {name}": int(value) for name, value in re.findall(r"(\w+): (\d+)", s3)}
        counts.update({f"DynamoDB {name}": int(value) for name, value in re.findall(r"(\w+): (\d+)", dynamodb)})
        return counts


# ---------------------------------------------------------------- one client


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.api_5xx = 0
        self.api_requests = 0
        self.s3_retries = 0
        self.connection_errors = 0
        self.represigns = 0

    def add(self, **counts):
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)


def request(hostport, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection(hostport, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Client:
    """One browser: signed-in, uploading and polling, retrying what a careful page retries."""

    def __init__(self, server, token, stats):
        self.server, self.stats = server, stats
        self.auth = {"Authorization": f"Bearer {token}"}

    def api(self, method, path, payload=None):
        """An API call; retries while the server is down (connection refused or reset) or answers 5xx."""
        body = json.dumps(payload).encode() if payload is not None else None
        headers = dict(self.auth, **({"Content-Type": "application/json"} if body else {}))
        for attempt in range(600):
            try:
                status, data = request(self.server.url, method, path, body, headers)
            except (OSError, http.client.HTTPException):
                self.stats.add(connection_errors=1)
                time.sleep(0.5)
                continue
            self.stats.add(api_requests=1)
            if status >= 500:
                self.stats.add(api_5xx=1)
                time.sleep(min(0.1 * 2**attempt, 2))
                continue
            return status, json.loads(data) if data else None
        raise RuntimeError(f"{method} {path}: the API did not answer")

    def signed_post(self, presigned, photo):
        """The signed multipart POST; True when S3 acknowledged it (2xx)."""
        url = urllib.parse.urlsplit(presigned["upload"]["url"])
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in presigned["upload"]["fields"].items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{photo["name"]}"\r\n'
            f'Content-Type: {photo["type"]}\r\n\r\n'.encode()
        )
        body = b"".join(parts) + photo["bytes"] + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        # 5xx and dropped connections are retried with the same form (S3 clients retry them);
        # a form whose S3 endpoint is gone (the server restarted on a new S3 port) is abandoned.
        for attempt in range(6):
            try:
                status, data = request(url.netloc, "POST", url.path or "/", body, headers)
            except (OSError, http.client.HTTPException):
                self.stats.add(s3_retries=1)
                time.sleep(0.2 * 2**attempt)
                continue
            if 200 <= status < 300:
                return True
            if status >= 500:
                self.stats.add(s3_retries=1)
                time.sleep(0.2 * 2**attempt)
                continue
            raise RuntimeError(f"signed upload refused: {status} {data[:300]!r}")
        return False

    def upload(self, photo, poll_interval, timeout):
        """One upload to its final record; (id, status, latency, abandoned ids)."""
        started = time.monotonic()
        abandoned = []
        while True:
            status, presigned = self.api(
                "POST", "/uploads", {"filename": photo["name"], "contentType": photo["type"], "size": len(photo["bytes"])}
            )
            if status != 201:
                raise RuntimeError(f"POST /uploads: {status} {presigned}")
            if self.signed_post(presigned, photo):
                break
            abandoned.append(presigned["imageId"])
            self.stats.add(represigns=1)
        image_id = presigned["imageId"]
        record = self.wait_final(image_id, poll_interval, started + timeout)
        return image_id, record.get("status"), time.monotonic() - started, abandoned

    def wait_final(self, image_id, poll_interval, deadline):
        record = {}
        while time.monotonic() < deadline:
            status, record = self.api("GET", f"/images/{image_id}")
            if status == 200 and record.get("status") in FINAL:
                return record
            time.sleep(poll_interval)
        return record or {}


# ---------------------------------------------------------------- checks


def read_back(client, outcomes):
    """Lists every image and every label through the API: duplicates and inconsistencies."""
    listed = []
    cursor = None
    while True:
        path = "/images?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        status, page = client.api("GET", path)
        assert status == 200, (status, page)
        listed += [item["imageId"] for item in page["items"]]
        cursor = page.get("cursor")
        if not cursor:
            break
    problems = []
    if len(listed) != len(set(listed)):
        problems.append(f"{len(listed) - len(set(listed))} image ids listed twice")
    expected_labels = {}
    for image_id, record in outcomes.items():
        for label in record.get("labels") or []:
            expected_labels.setdefault(label["name"].lower(), set()).add(image_id)
    label_items = 0
    for label, ids in sorted(expected_labels.items()):
        found = []
        cursor = None
        while True:
            query = {"label": label, "minConfidence": "0", "limit": "100"}
            if cursor:
                query["cursor"] = cursor
            status, page = client.api("GET", "/images?" + urllib.parse.urlencode(query))
            assert status == 200, (status, page)
            found += [item["imageId"] for item in page["items"]]
            cursor = page.get("cursor")
            if not cursor:
                break
        label_items += len(found)
        if len(found) != len(set(found)):
            problems.append(f"label {label}: {len(found) - len(set(found))} duplicate items")
        mine = set(found) & set(outcomes)
        if mine != ids:
            problems.append(f"label {label}: items {len(mine)} vs records {len(ids)}")
    return {"listed": len(listed), "distinct_listed": len(set(listed)), "labels": len(expected_labels),
            "label_items": label_items, "problems": problems}


def quantile(values, q):
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


# ---------------------------------------------------------------- one run


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, name, photos, env=None, kills=0):
    data = tempfile.mkdtemp(prefix=f"imgpipe-load-{name}-")
    server = Server(args.imgpipe, args.model, data, free_port(), env or {})
    server.start()
    token = server.users("token", USER)
    stats = Stats()
    outcomes, latencies, statuses, abandoned, errors = {}, [], {}, [], []
    lock = threading.Lock()
    next_index = [0]
    in_flight = [0]
    kills_at = []
    rng = random.Random(args.seed)
    order = [photos[i % len(photos)] for i in range(args.uploads)]
    rng.shuffle(order)

    def worker():
        client = Client(server, token, stats)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= len(order):
                return
            with lock:
                in_flight[0] += 1
            try:
                image_id, status, latency, gone = client.upload(order[i], args.poll, args.timeout)
            except Exception as err:  # noqa: BLE001 -- reported, the run goes on
                with lock:
                    errors.append(str(err)[:300])
                    in_flight[0] -= 1
                continue
            with lock:
                in_flight[0] -= 1
                abandoned.extend(gone)
                statuses[image_id] = status
                if status in FINAL:
                    latencies.append(latency)

    stop_killer = threading.Event()

    def killer():
        # Kill moments: uniform over the expected run (the plain run's length, if known).
        span = args.kill_span or 60.0
        moments = sorted(rng.uniform(0.1 * span, 0.8 * span) for _ in range(kills))
        t0 = time.monotonic()
        for moment in moments:
            if stop_killer.wait(max(0.0, t0 + moment - time.monotonic())):
                return
            with lock:
                kills_at.append((time.monotonic() - t0, in_flight[0]))
            log(f"{name}: kill -9 at {kills_at[-1][0]:.1f} s with {kills_at[-1][1]} uploads in flight")
            server.kill9()
            time.sleep(args.down)
            server.start()
            log(f"{name}: restarted ({server.starts - 1} restarts)")

    sampler_stop = threading.Event()

    def sampler():
        while not sampler_stop.wait(0.5):
            server.note_rss()

    threading.Thread(target=sampler, daemon=True).start()
    log(f"{name}: {args.uploads} uploads, {args.clients} clients, env {env or {}}")
    load_before = os.getloadavg()[0]
    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    kill_thread = threading.Thread(target=killer) if kills else None
    for t in threads:
        t.start()
    if kill_thread:
        kill_thread.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    stop_killer.set()
    if kill_thread:
        kill_thread.join()

    reader = Client(server, token, stats)
    # Forms abandoned by a client (their S3 endpoint died with the server): whatever happened to
    # their bytes, their records must end final or stay PENDING never uploaded, never duplicated.
    abandoned_final = {}
    for image_id in abandoned:
        status, record = reader.api("GET", f"/images/{image_id}")
        abandoned_final[image_id] = record.get("status") if status == 200 else f"HTTP {status}"
    records = {}
    for image_id in statuses:
        status, record = reader.api("GET", f"/images/{image_id}")
        if status == 200:
            records[image_id] = record
    api_5xx_in_run = stats.api_5xx
    check = read_back(reader, records)
    sampler_stop.set()
    server.stop()
    result = {
        "name": name,
        "uploads": args.uploads,
        "clients": args.clients,
        "acknowledged": len(statuses),
        "final": sum(1 for s in statuses.values() if s in FINAL),
        "by_status": {s: sum(1 for v in statuses.values() if v == s) for s in sorted(set(map(str, statuses.values())))},
        "errors": errors,
        "wall_s": wall,
        "throughput_per_s": len(latencies) / wall if wall else 0,
        "latency_s": {q: quantile(latencies, v) for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))},
        "api_requests": stats.api_requests,
        "api_5xx": api_5xx_in_run,
        "s3_upload_retries": stats.s3_retries,
        "connection_errors": stats.connection_errors,
        "abandoned_forms": len(abandoned),
        "abandoned_status": {s: list(abandoned_final.values()).count(s) for s in sorted(set(abandoned_final.values()))},
        "restarts": server.starts - 1,
        "kills_at": kills_at,
        "peak_rss_bytes": server.peak_rss,
        "read_back": check,
        "injected_faults": server.injected_faults() if env else None,
        "env": env or {},
        "load_average": (load_before, os.getloadavg()[0]),
    }
    result["ok"] = (
        result["acknowledged"] == args.uploads
        and result["final"] == args.uploads
        and not errors
        and not check["problems"]
        and check["distinct_listed"] == len(statuses) + len(abandoned)
    )
    log(f"{name}: {json.dumps({k: v for k, v in result.items() if k != 'errors'})}")
    if result["ok"]:
        import shutil

        shutil.rmtree(data, ignore_errors=True)
    else:
        log(f"{name}: NOT OK; data kept in {data}")
    return result


# ---------------------------------------------------------------- report


def fmt_s(v):
    return "–" if v is None else f"{v:.2f}"


def section(results, args, photos, note):
    w = []
    w.append(BEGIN)
    w.append("## Reliability under load: `bench/load.sh`")
    w.append("")
    w.append(
        f"Written by `bench/load.sh` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). "
        f"{args.clients} concurrent clients drive `imgpipe serve` through its API as the page does: "
        "`POST /uploads`, the signed multipart POST to the S3 endpoint, then `GET /images/{id}` every "
        f"{args.poll:g} s until the record is final. Each run has a fresh data directory. "
        "This is a reliability benchmark: the figures are absolute and the invariants are the point; "
        "no anchor runs beside it, so no speed ratio is claimed."
    )
    w.append("")
    total = sum(len(p["bytes"]) for p in photos)
    w.append(
        f"Photos: {len(photos)} real photos ({total / len(photos) / 1e6:.2f} MB on average; "
        + ", ".join(sorted(p["name"] for p in photos))
        + ") cycled in a shuffled order. "
        f"Binary: `{args.profile}` profile. Machine: {os.cpu_count()} cores"
        + (f", commit {commit()}" if commit() else "")
        + "."
    )
    if note:
        w.append("")
        w.append(f"**{note}**")
    w.append("")
    w.append("| run | uploads final | by status | duplicates | API 5xx | throughput | p50 | p95 | p99 | peak RSS |")
    w.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        dup = "none" if not r["read_back"]["problems"] else "; ".join(r["read_back"]["problems"])
        by = ", ".join(f"{k} {v}" for k, v in r["by_status"].items())
        lat = r["latency_s"]
        w.append(
            f"| {r['name']} | {r['final']}/{r['uploads']} | {by} | {dup} | {r['api_5xx']} | "
            f"{r['throughput_per_s']:.2f}/s | {fmt_s(lat['p50'])} s | {fmt_s(lat['p95'])} s | {fmt_s(lat['p99'])} s | "
            f"{r['peak_rss_bytes'] / 2**20:.0f} MiB |"
        )
    w.append("")
    w.append("Per run:")
    w.append("")
    for r in results:
        rb = r["read_back"]
        extra = [
            f"{r['wall_s']:.0f} s wall",
            "1-minute load average {:.1f} before, {:.1f} after".format(*r["load_average"]),
            f"{r['api_requests']} API answers",
            f"{rb['distinct_listed']} image items listed (one per upload and per abandoned form)",
            f"{rb['label_items']} label items over {rb['labels']} labels, each matching the records",
        ]
        if r["restarts"]:
            extra.append(
                f"{r['restarts']} kill -9 + restart, at "
                + ", ".join(f"{t:.0f} s ({n} uploads in flight)" for t, n in r["kills_at"])
            )
            extra.append(f"{r['connection_errors']} client requests refused while the server was down (retried)")
        if r["abandoned_forms"]:
            extra.append(
                f"{r['abandoned_forms']} signed forms abandoned because their S3 endpoint died with the server "
                f"(the client presigned again; their records: "
                + ", ".join(f"{k} {v}" for k, v in r["abandoned_status"].items())
                + ")"
            )
        if r["s3_upload_retries"]:
            extra.append(f"{r['s3_upload_retries']} signed POSTs retried with the same form (5xx or dropped)")
        if r["env"]:
            extra.append("faults: " + ", ".join(f"`{k}={v}`" for k, v in r["env"].items()))
        if r["injected_faults"]:
            extra.append("injected (server log): " + ", ".join(f"{k} {v}" for k, v in r["injected_faults"].items()))
        if r["errors"]:
            extra.append(f"client errors: {r['errors'][:3]}")
        w.append(f"- **{r['name']}**: " + "; ".join(extra) + ".")
    w.append("")
    w.append(
        "Latency is from the client's `POST /uploads` to the first poll that sees a final record, so it "
        f"includes the queue: with {args.clients} clients on {os.cpu_count()} cores and `--max-tasks` one step per core, most of it "
        "is waiting for a core (DetectLabels dominates). Peak RSS is the largest VmHWM of the server "
        "process (of each process, in the kill run). The invariants are what docs/reliability.md cites."
    )
    w.append(END)
    return "\n".join(w)


def commit():
    try:
        out = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() or None


def write_section(path, text):
    try:
        doc = open(path).read()
    except FileNotFoundError:
        doc = "# Performance\n"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        doc = head + text + tail
    elif "\n## Targets" in doc:
        head, tail = doc.split("\n## Targets", 1)
        doc = head + "\n" + text + "\n\n## Targets" + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    with open(path, "w") as f:
        f.write(doc)


def load_photos(paths, max_bytes):
    photos = []
    for path in paths:
        ext = os.path.splitext(path)[1].lower()
        if ext not in TYPES or os.path.getsize(path) > max_bytes:
            continue
        with open(path, "rb") as f:
            photos.append({"name": os.path.basename(path), "type": TYPES[ext], "bytes": f.read()})
    return photos


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgpipe", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--profile", default="dev", help="the build profile, for the report")
    p.add_argument("--photo", action="append", default=[], help="a photo file (repeat)")
    p.add_argument("--max-photo-bytes", type=int, default=1_500_000)
    p.add_argument("--uploads", type=int, default=300)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--poll", type=float, default=0.5, help="seconds between polls of a record")
    p.add_argument("--timeout", type=float, default=1800, help="seconds one upload may take to be final")
    p.add_argument("--runs", default="plain,kill,faults")
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--kill-span", type=float, help="seconds over which kills are spread (default: the plain run)")
    p.add_argument("--down", type=float, default=1.0, help="seconds the server stays dead")
    p.add_argument("--fault-rate", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--note", help="a line printed in bold under the description (e.g. a smaller scale)")
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "performance.md"))
    p.add_argument("--json", help="also write the raw results here")
    args = p.parse_args()
    photos = load_photos(args.photo, args.max_photo_bytes)
    if not photos:
        sys.exit("no photos (give --photo FILE, .jpg or .png under --max-photo-bytes)")
    results = []
    for name in args.runs.split(","):
        if name == "plain":
            r = run(args, "plain", photos)
            args.kill_span = args.kill_span or r["wall_s"]
        elif name == "kill":
            r = run(args, f"kill -9 ×{args.kills}", photos, kills=args.kills)
        elif name == "faults":
            rate = args.fault_rate
            env = {
                "IMGPIPE_S3_FAULTS": f"rate={rate},seed={args.seed}",
                "IMGPIPE_DYNAMODB_FAULTS": f"rate={rate},seed={args.seed + 1}",
            }
            r = run(args, f"{rate:.0%} dependency faults", photos, env=env)
        else:
            sys.exit(f"unknown run {name!r} (plain, kill, faults)")
        results.append(r)
    write_section(args.out, section(results, args, photos, args.note))
    log(f"wrote {os.path.relpath(args.out)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
