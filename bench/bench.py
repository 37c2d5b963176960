#!/usr/bin/env python3
"""imgpipe side by side with sharp, Pillow and Python + boto3: measures, then writes
docs/performance.md. Called by bench/run.sh, which installs the anchors and builds the binaries.

Every measurement runs the anchors in the same run on the same inputs, interleaved round by
round, so that a busy machine slows all of them alike; the report gives medians, spread and
ratios, and checks the targets.
"""
import argparse
import datetime
import http.server
import io
import json
import os
import platform
import shutil
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from PIL import Image, ImageOps

import labels  # bench/labels.py: its section too
import load  # bench/load.py: its section of the report is kept when this one is rewritten

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024

# The thumbnail set: real photos from Debian's mate-backgrounds, 1.8 to 17.9 megapixels.
THUMBNAIL_SET = [
    "nature/Dune.jpg",
    "nature/Storm.jpg",
    "nature/Wood.jpg",
    "abstract/Elephants_3840x2160.jpg",
    "abstract/Elephants_5640x3172.jpg",
]
LARGEST = "abstract/Elephants_5640x3172.jpg"

TARGETS = {
    "thumb_set_ratio": 0.8,
    "thumb_largest_ratio": 0.8,
    "ssim_delta": 0.01,
    "thumb_rss_mb": 100,
    "validate_ms": 1.0,
    "init_ms": 50,
    "init_rss_mb": 20,
    "engine_overhead": 0.10,
}


# ---------------------------------------------------------------- running children


def run_child(cmd, env=None, cwd=None):
    """Run `cmd` to completion; return (stdout, wall seconds, peak RSS bytes, cpu seconds).

    Peak RSS comes from /usr/bin/time: Linux carries a forked child's pre-exec peak (this big
    Python process) into its ru_maxrss, so wait4 on our own child would overstate it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as rss:
        start = time.perf_counter()
        timed = ["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd
        proc = subprocess.Popen(timed, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        peak_kb = int(rss.read().split()[-1])
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return stdout, wall, peak_kb * 1024, usage.ru_utime + usage.ru_stime


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def quantiles(values):
    """median, p25, p75, min, max of `values`."""
    v = sorted(values)
    if len(v) == 1:
        return {"median": v[0], "p25": v[0], "p75": v[0], "min": v[0], "max": v[0], "n": 1}
    q = statistics.quantiles(v, n=4, method="inclusive")
    return {"median": statistics.median(v), "p25": q[0], "p75": q[2], "min": v[0], "max": v[-1], "n": len(v)}


# ---------------------------------------------------------------- tools


class Tools:
    def __init__(self, args):
        self.args = args
        self.node = shutil.which("node")
        self.python = sys.executable

    def thumbnail_cmd(self, tool, files, passes, warmup, out=None):
        extra = ["--passes", str(passes), "--warmup", str(warmup)] + (["--out", out] if out else [])
        if tool == "imgpipe":
            return [self.args.thumbnail_bench, "thumbnail"] + extra + files
        if tool == "sharp":
            return [self.node, os.path.join(HERE, "anchors", "sharp_thumb.js")] + extra + files
        if tool == "Pillow":
            return [self.python, os.path.join(HERE, "anchors", "pillow_thumb.py")] + extra + files
        raise ValueError(tool)


THUMB_TOOLS = ["imgpipe", "sharp", "Pillow"]


# ---------------------------------------------------------------- thumbnails


def bench_thumbnails(tools, photos, rounds, passes):
    files = [os.path.join(photos, f) for f in THUMBNAIL_SET]
    samples = {t: {f: [] for f in THUMBNAIL_SET} for t in THUMB_TOOLS}
    cpu_over_wall = {t: [] for t in THUMB_TOOLS}
    out_dirs = {t: tempfile.mkdtemp(prefix=f"bench-{t}-") for t in THUMB_TOOLS}
    for r in range(rounds):
        order = THUMB_TOOLS[r % 3:] + THUMB_TOOLS[:r % 3]
        for tool in order:
            out = out_dirs[tool] if r == rounds - 1 else None
            stdout, wall, _, cpu = run_child(tools.thumbnail_cmd(tool, files, passes, 1, out))
            timed_ms = 0.0
            for row, name in zip(json_lines(stdout), THUMBNAIL_SET):
                samples[tool][name].extend(row["ms"])
                timed_ms += sum(row["ms"]) * (passes + 1) / passes
            cpu_over_wall[tool].append(cpu / wall)
        log(f"thumbnails: round {r + 1}/{rounds} done")
    per_image = {t: {f: quantiles(s) for f, s in samples[t].items()} for t in THUMB_TOOLS}
    # Over the set: the mean of per-image medians (= total time for the set / number of images).
    over_set = {t: statistics.mean(per_image[t][f]["median"] for f in THUMBNAIL_SET) for t in THUMB_TOOLS}
    rss = {}
    for tool in THUMB_TOOLS:
        _, _, peak, _ = run_child(tools.thumbnail_cmd(tool, [os.path.join(photos, LARGEST)], 1, 0))
        rss[tool] = peak
    log("thumbnails: peak RSS done")
    quality = thumbnail_quality(photos, out_dirs)
    for d in out_dirs.values():
        shutil.rmtree(d, ignore_errors=True)
    return {
        "per_image": per_image,
        "over_set": over_set,
        "rss_largest": rss,
        "cpu_over_wall": {t: statistics.median(v) for t, v in cpu_over_wall.items()},
        "quality": quality,
        "samples_per_image": rounds * passes,
    }


def luma(img):
    a = np.asarray(img.convert("RGB"), dtype=np.float64)
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def gaussian_filter(x, size=11, sigma=1.5):
    k = np.exp(-0.5 * ((np.arange(size) - size // 2) / sigma) ** 2)
    k /= k.sum()
    x = np.lib.stride_tricks.sliding_window_view(x, size, axis=0) @ k
    return np.lib.stride_tricks.sliding_window_view(x, size, axis=1) @ k


def ssim(a, b):
    """Mean SSIM of two luma images (Wang et al. 2004: 11×11 Gaussian σ 1.5, K1 .01, K2 .03)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = gaussian_filter(a), gaussian_filter(b)
    var_a = gaussian_filter(a * a) - mu_a**2
    var_b = gaussian_filter(b * b) - mu_b**2
    cov = gaussian_filter(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def thumbnail_quality(photos, out_dirs):
    """Dimensions and SSIM of each tool's thumbnails against a reference: Pillow's LANCZOS
    resize of the full decode (no DCT scaling), oriented, to the same dimensions."""
    rows = {}
    for name in THUMBNAIL_SET:
        full = ImageOps.exif_transpose(Image.open(os.path.join(photos, name))).convert("RGB")
        stem = os.path.splitext(os.path.basename(name))[0]
        for size in (1024, 256):
            dims = {}
            scores = {}
            for tool, d in out_dirs.items():
                thumb = Image.open(os.path.join(d, f"{stem}_{size}.jpg"))
                dims[tool] = thumb.size
            ref_size = dims["sharp"]
            reference = luma(full.resize(ref_size, Image.LANCZOS))
            for tool, d in out_dirs.items():
                thumb = Image.open(os.path.join(d, f"{stem}_{size}.jpg"))
                scores[tool] = ssim(luma(thumb), reference) if thumb.size == ref_size else None
            rows[f"{name}@{size}"] = {"name": name, "size": size, "dims": dims, "ssim": scores}
    return rows


# ---------------------------------------------------------------- validate


def make_validate_set(photos, work):
    """One file per format: JPEG and PNG from the package, GIF and WebP converted by Pillow."""
    jpeg = os.path.join(photos, LARGEST)
    png = os.path.join(photos, "desktop/Ubuntu-Mate-Cold-no-logo.png")
    src = Image.open(os.path.join(photos, "nature/Wood.jpg"))
    gif = os.path.join(work, "Wood.gif")
    webp = os.path.join(work, "Wood.webp")
    src.save(gif)
    src.save(webp, quality=80)
    return {"JPEG": jpeg, "PNG": png, "GIF": gif, "WebP": webp}


def bench_validate(tools, photos, work, passes):
    files = make_validate_set(photos, work)
    cmd = [tools.args.thumbnail_bench, "validate", "--passes", str(passes), "--warmup", "3"]
    stdout, _, _, _ = run_child(cmd + list(files.values()))
    rows = {}
    for (fmt, path), row in zip(files.items(), json_lines(stdout)):
        im = Image.open(path)
        rows[fmt] = {
            "file": os.path.basename(path),
            "dims": im.size,
            "bytes": os.path.getsize(path),
            "ms": quantiles(row["ms"]),
        }
    # The same files decoded (Pillow, full decode): what validation would cost if it decoded.
    for fmt, path in files.items():
        start = time.perf_counter()
        Image.open(path).load()
        rows[fmt]["pillow_decode_ms"] = (time.perf_counter() - start) * 1e3
    return rows


# ---------------------------------------------------------------- cold start


class RuntimeApi(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_runtime_handler(first_next):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if "/runtime/invocation/next" in self.path and not first_next.is_set():
                first_next.when = time.perf_counter()
                first_next.set()
            # Hold the request: the function waits here as it would for its first event.
            time.sleep(5)
            self.send_response(500)
            self.end_headers()

        def log_message(self, *a):
            pass

    return Handler


def read_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def function_cold_start(binary, extra_env):
    first_next = threading.Event()
    server = RuntimeApi(("127.0.0.1", 0), make_runtime_handler(first_next))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    })
    env.update(extra_env)
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ok = first_next.wait(10)
    try:
        if not ok:
            proc.kill()
            raise RuntimeError(f"{binary} never asked for /next: {proc.stderr.read().decode()[-2000:]}")
        ms = (first_next.when - start) * 1e3
        rss = read_status(proc.pid, "VmHWM")
        return ms, rss
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()
        server.server_close()


BOTO3_INIT = "import boto3; boto3.client('rekognition'); boto3.client('s3')"


def bench_cold_start(tools, rounds):
    env = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    results = {}
    binaries = {name: path for name, path in tools.args.function.items() if os.path.exists(path)}
    samples = {name: [] for name in binaries}
    rss = {name: [] for name in binaries}
    samples["python3 + boto3"] = []
    rss["python3 + boto3"] = []
    for _ in range(rounds):
        for name, path in binaries.items():
            ms, peak = function_cold_start(path, tools.args.function_env)
            samples[name].append(ms)
            rss[name].append(peak)
        _, wall, peak, _ = run_child([sys.executable, "-c", BOTO3_INIT], env={**os.environ, **env})
        samples["python3 + boto3"].append(wall * 1e3)
        rss["python3 + boto3"].append(peak)
    for name in samples:
        results[name] = {"ms": quantiles(samples[name]), "rss": statistics.median(rss[name])}
    return results


# ---------------------------------------------------------------- end to end


def e2e_set(photos):
    """Every JPEG photo of the package the product accepts (the 16.4 MB one is over its 15 MiB limit)."""
    out = []
    for root, _, files in os.walk(photos):
        for f in sorted(files):
            path = os.path.join(root, f)
            if f.lower().endswith(".jpg") and os.path.getsize(path) <= 15 * MIB:
                out.append(path)
    return sorted(out)


def parse_time(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def step_costs(data_dir):
    """From the engine's durable execution files: per execution, its duration and the time
    spent inside each Task (TaskScheduled to TaskSucceeded/Failed)."""
    rows = []
    exec_dir = os.path.join(data_dir, "executions")
    for root, _, files in os.walk(data_dir):
        for f in files:
            if not f.endswith(".json") or "execution" not in root:
                continue
            try:
                with open(os.path.join(root, f)) as fh:
                    doc = json.load(fh)
            except (OSError, ValueError):
                continue
            events = doc.get("history") or doc.get("events") or []
            if not events:
                continue
            tasks = {}
            state, scheduled = None, None
            for e in events:
                kind = e.get("type", "")
                if kind == "TaskStateEntered":
                    state = (e.get("stateEnteredEventDetails") or {}).get("name")
                elif kind == "TaskScheduled":
                    scheduled = parse_time(e["timestamp"])
                elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") and scheduled is not None:
                    tasks[state] = tasks.get(state, 0.0) + parse_time(e["timestamp"]) - scheduled
                    scheduled = None
            start, stop = parse_time(events[0]["timestamp"]), parse_time(events[-1]["timestamp"])
            rows.append({"start": start, "stop": stop, "tasks": tasks})
    return rows


def bench_e2e(tools, photos, work):
    files = e2e_set(photos)
    data = os.path.join(work, "e2e-data")
    cmd = [tools.args.imgpipe, "process", "--json", "--data", data] + files
    if tools.args.model:
        cmd[2:2] = ["--model", tools.args.model]
    stdout, wall, peak, cpu = run_child(cmd)
    start_at = stdout.find("[")
    rows = json.loads(stdout[start_at:]) if start_at >= 0 else []
    done = sum(1 for r in rows if r.get("status") == "DONE")
    execs = step_costs(data)
    result = {"files": len(files), "done": done, "wall": wall, "rss": peak, "cpu": cpu, "executions": len(execs)}
    if execs:
        window = max(e["stop"] for e in execs) - min(e["start"] for e in execs)
        exec_time = sum(e["stop"] - e["start"] for e in execs)
        task_time = sum(sum(e["tasks"].values()) for e in execs)
        per_step = {}
        for e in execs:
            for name, t in e["tasks"].items():
                per_step.setdefault(name, []).append(t * 1e3)
        result.update({
            "window": window,
            "images_per_s": len(execs) / window if window > 0 else None,
            "exec_time": exec_time,
            "task_time": task_time,
            "engine_overhead": 1 - task_time / exec_time if exec_time > 0 else None,
            "per_step_ms": {k: quantiles(v) for k, v in per_step.items()},
        })
    # The thumbnail step's own cost on the same files, alone on one thread.
    out, _, _, _ = run_child(tools.thumbnail_cmd("imgpipe", files, 1, 1))
    result["thumbnail_alone_ms"] = statistics.mean(statistics.median(r["ms"]) for r in json_lines(out))
    return result


def bench_model(tools, photos, rounds):
    """The local model alone: `imgpipe detect` over the thumbnail set, rounds + 1 passes in one
    process (the first pass warms up), one image at a time. The upload limit (15 MiB, as
    Rekognition's) is raised so that the 16.4 MB photo is measured too."""
    files = [os.path.join(photos, p) for p in THUMBNAIL_SET]
    cmd = [tools.args.imgpipe, "detect", "--json"] + files * (rounds + 1)
    if tools.args.model:
        cmd[2:2] = ["--model", tools.args.model]
    stdout, wall, peak, cpu = run_child(cmd, env={**os.environ, "MAX_IMAGE_BYTES": str(32 * MIB)})
    rows = json_lines(stdout)
    expected = len(files) * (rounds + 1)
    if len(rows) != expected:
        raise RuntimeError(f"imgpipe detect answered {len(rows)} of {expected} images")
    timed = rows[len(files):]
    per_image = {}
    for r in timed:
        per_image.setdefault(os.path.basename(r["file"]), []).append(r["decodeMs"] + r["modelMs"])
    return {
        "model_ms": quantiles([r["modelMs"] for r in timed]),
        "decode_ms": quantiles([r["decodeMs"] for r in timed]),
        "per_image_ms": {name: statistics.median(v) for name, v in per_image.items()},
        "labels": {os.path.basename(r["file"]): [l["name"] for l in r["labels"]["labels"]][:3] for r in rows[:len(files)]},
        "startup_s": wall - sum(r["decodeMs"] + r["modelMs"] for r in rows) / 1e3,
        "rss": peak,
        "cpu_per_wall": cpu / wall,
    }


# ---------------------------------------------------------------- report


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cmd_out(cmd, cwd=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine_info(tools):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    sharp_versions = cmd_out([tools.node, "-e", "const s=require('sharp');console.log(s.versions.sharp+' (libvips '+s.versions.vips+')')"], cwd=HERE)
    import PIL

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "kernel": platform.release(),
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "rustc": cmd_out(["rustc", "--version"]),
        "node": cmd_out([tools.node, "--version"]),
        "sharp": sharp_versions,
        "python": platform.python_version(),
        "Pillow": PIL.__version__,
        "numpy": np.__version__,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def fmt_q(q, digits=0):
    f = f"{{:.{digits}f}}"
    return f"{f.format(q['median'])} ({f.format(q['p25'])}–{f.format(q['p75'])})"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def report(results, info, args):
    lines = []
    w = lines.append
    w("# Performance")
    w("")
    w("Written by `bench/run.sh` (do not edit by hand; run it again). Every table compares imgpipe with")
    w("the tool people would otherwise use, **in the same run on the same inputs**, interleaved round by")
    w("round. Times are medians with the interquartile range in parentheses; ratios are imgpipe ÷ anchor")
    w("(below 1 means imgpipe is faster). Photos: Debian's `mate-backgrounds` package (not committed).")
    w("")
    w("## Machine")
    w("")
    for k, v in info.items():
        w(f"- {k}: {v}")
    w(f"- load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.note:
        w("")
        w(f"> {args.note}")
    w("")
    targets = []

    t = results.get("thumbnails")
    if t:
        w("## Thumbnail: decode + orient + 1024 px and 256 px + JPEG q80, one thread")
        w("")
        w("Bytes in memory to two encoded JPEGs in memory, per image, after one warm-up pass;")
        w(f"{t['samples_per_image']} samples per image and tool. imgpipe: `make_thumbnails`")
        w("(examples/thumbnail_bench.rs). sharp: one shrink-on-load decode, `.rotate()`, 1024 px, then")
        w("256 px from those pixels, `sharp.concurrency(1)`, cache off. Pillow: `draft()`,")
        w("`exif_transpose`, LANCZOS to 1024 px, then 256 px from those pixels.")
        w("")
        w("| photo | MP | imgpipe ms | sharp ms | Pillow ms | imgpipe ÷ sharp | imgpipe ÷ Pillow |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for name in THUMBNAIL_SET:
            p = t["per_image"]
            mp = megapixels(os.path.join(args.photos, name))
            w(f"| {os.path.basename(name)} | {mp:.1f} | {fmt_q(p['imgpipe'][name], 1)} | {fmt_q(p['sharp'][name], 1)} | "
              f"{fmt_q(p['Pillow'][name], 1)} | {p['imgpipe'][name]['median'] / p['sharp'][name]['median']:.2f} | "
              f"{p['imgpipe'][name]['median'] / p['Pillow'][name]['median']:.2f} |")
        s = t["over_set"]
        w(f"| **over the set (ms/image)** | | **{s['imgpipe']:.1f}** | **{s['sharp']:.1f}** | **{s['Pillow']:.1f}** | "
          f"**{s['imgpipe'] / s['sharp']:.2f}** | **{s['imgpipe'] / s['Pillow']:.2f}** |")
        w("")
        w("Min–max per image (ms): " + "; ".join(
            f"{os.path.basename(n)}: " + ", ".join(
                f"{tool} {t['per_image'][tool][n]['min']:.0f}–{t['per_image'][tool][n]['max']:.0f}" for tool in THUMB_TOOLS)
            for n in THUMBNAIL_SET) + ".")
        w("")
        busy = min(t["cpu_over_wall"].values())
        if busy < 0.75:
            w(f"> **Warning: the machine was saturated during this measurement** (a tool's process got only {busy:.2f} of a")
            w("> core on average): the spread is wide and the ratios are unreliable. Re-run on a quiet machine.")
            w("")
        w("CPU time ÷ wall time of each tool's process (1.0 = one busy thread): " + ", ".join(
            f"{tool} {v:.2f}" for tool, v in t["cpu_over_wall"].items()) + ".")
        w("")
        w(f"Peak RSS of one process thumbnailing only {os.path.basename(LARGEST)} (17.9 MP, "
          f"{os.path.getsize(os.path.join(args.photos, LARGEST)) / 1e6:.1f} MB, progressive):")
        w("")
        w("| | imgpipe | sharp (node) | Pillow (python3) |")
        w("|---|---:|---:|---:|")
        r = t["rss_largest"]
        w(f"| peak RSS MB | {r['imgpipe'] / 1e6:.1f} | {r['sharp'] / 1e6:.1f} | {r['Pillow'] / 1e6:.1f} |")
        w("")
        w("Quality: every tool's thumbnail against a reference, Pillow's LANCZOS resize of the full")
        w("decode (no DCT scaling) to the same dimensions; SSIM on luma (11×11 Gaussian, σ 1.5).")
        w("")
        w("| photo | size | dimensions (imgpipe / sharp / Pillow) | SSIM imgpipe | SSIM sharp | SSIM Pillow |")
        w("|---|---:|---|---:|---:|---:|")
        worst_delta = 0.0
        dims_ok = True
        for row in t["quality"].values():
            name, size = row["name"], row["size"]
            d = row["dims"]
            same = len(set(map(tuple, d.values()))) == 1
            dims_ok &= same
            sc = row["ssim"]
            if sc["imgpipe"] is not None and sc["sharp"] is not None:
                worst_delta = max(worst_delta, sc["sharp"] - sc["imgpipe"])
            else:
                worst_delta = float("inf")
            fmt = lambda v: "—" if v is None else f"{v:.4f}"
            w(f"| {os.path.basename(name)} | {size} | {'×'.join(map(str, d['imgpipe']))} / {'×'.join(map(str, d['sharp']))} / "
              f"{'×'.join(map(str, d['Pillow']))}{'' if same else ' **differ**'} | {fmt(sc['imgpipe'])} | {fmt(sc['sharp'])} | {fmt(sc['Pillow'])} |")
        w("")
        largest_ratio = t["per_image"]["imgpipe"][LARGEST]["median"] / t["per_image"]["sharp"][LARGEST]["median"]
        caveat = " (unreliable: machine saturated)" if busy < 0.75 else ""
        targets += [
            ("thumbnail over the set ≤ 0.8× sharp", f"{s['imgpipe'] / s['sharp']:.2f}×{caveat}", s["imgpipe"] / s["sharp"] <= TARGETS["thumb_set_ratio"]),
            ("thumbnail of the 17.9 MP photo ≤ 0.8× sharp", f"{largest_ratio:.2f}×{caveat}", largest_ratio <= TARGETS["thumb_largest_ratio"]),
            ("SSIM within 0.01 of sharp's, same dimensions", f"worst {-worst_delta:+.4f} vs sharp" + ("" if dims_ok else ", dimensions differ"),
             dims_ok and worst_delta <= TARGETS["ssim_delta"]),
            ("peak RSS thumbnailing the 17.9 MP JPEG ≤ 100 MB", f"{r['imgpipe'] / 1e6:.1f} MB", r["imgpipe"] <= TARGETS["thumb_rss_mb"] * 1e6),
        ]

    v = results.get("validate")
    if v:
        w("## Validate: header only")
        w("")
        w("`inspect` on the first 64 KiB of each file (what the validate function reads with a ranged")
        w("GET), many passes after warm-up. For scale, Pillow's full decode of the same file: validation")
        w("that decoded pixels would cost that much.")
        w("")
        w("| format | file | dimensions | bytes | inspect µs (median, IQR) | Pillow full decode ms |")
        w("|---|---|---|---:|---:|---:|")
        worst = 0.0
        for fmt, row in v.items():
            q = {k: (x * 1e3 if isinstance(x, float) else x) for k, x in row["ms"].items()}
            worst = max(worst, row["ms"]["median"])
            w(f"| {fmt} | {row['file']} | {row['dims'][0]}×{row['dims'][1]} | {row['bytes']} | {fmt_q(q, 1)} | {row['pillow_decode_ms']:.0f} |")
        w("")
        targets.append(("validate < 1 ms per image, no pixel decode", f"worst median {worst * 1e3:.1f} µs", worst < TARGETS["validate_ms"]))

    c = results.get("cold_start")
    if c:
        w("## Cold start: process start to the first Runtime API `/next`")
        w("")
        w("A local Runtime API answers nothing but records when `/next` is first asked for; peak RSS")
        w("(VmHWM) is read at that moment. Anchor: `python3 -c \"" + BOTO3_INIT + "\"` (whole process).")
        w("")
        w("| program | init ms (median, IQR) | peak RSS MB |")
        w("|---|---:|---:|")
        for name, row in c.items():
            w(f"| {name} | {fmt_q(row['ms'], 1)} | {row['rss'] / 1e6:.1f} |")
        w("")
        fns = {n: r for n, r in c.items() if n != "python3 + boto3"}
        if fns:
            worst_ms = max(r["ms"]["median"] for r in fns.values())
            worst_rss = max(r["rss"] for r in fns.values())
            targets.append(("function init ≤ 50 ms and ≤ 20 MB RSS", f"worst {worst_ms:.1f} ms, {worst_rss / 1e6:.1f} MB",
                            worst_ms <= TARGETS["init_ms"] and worst_rss <= TARGETS["init_rss_mb"] * 1e6))

    e = results.get("e2e")
    if e:
        w("## End to end: `imgpipe process` on the set, both cores")
        w("")
        w(f"{e['files']} JPEG photos of the package (all but the 16.4 MB one, which is over the product's")
        w(f"15 MiB limit); {e['done']} DONE. Each file goes the product's way: PutObject into the embedded S3,")
        w("the Object Created event, an execution of `statemachine/pipeline.asl.json` in the embedded engine")
        w("with the in-process functions and the local model, records in the embedded DynamoDB. The")
        w("steps' own costs are read from the executions' histories (TaskScheduled to TaskSucceeded).")
        w("")
        w("| measure | value |")
        w("|---|---:|")
        w(f"| process wall time (incl. stack start and model load) | {e['wall']:.1f} s |")
        if e.get("images_per_s"):
            w(f"| executions' window (first start to last stop) | {e['window']:.1f} s |")
            w(f"| throughput | **{e['images_per_s']:.2f} images/s** |")
            w(f"| CPU time of the process ÷ wall time | {e['cpu'] / e['wall']:.2f} cores |")
            w(f"| peak RSS of the process | {e['rss'] / 1e6:.0f} MB |")
            for name, q in sorted(e["per_step_ms"].items()):
                w(f"| step {name}: ms per image, in the engine, median (IQR) | {fmt_q(q, 0)} |")
            w(f"| thumbnail alone (same files, one thread, bench binary) | {e['thumbnail_alone_ms']:.0f} ms/image |")
            w(f"| sum of executions' durations | {e['exec_time']:.1f} s |")
            w(f"| sum of time inside Tasks | {e['task_time']:.1f} s |")
            w(f"| engine overhead: share of execution time outside Tasks | **{e['engine_overhead'] * 100:.1f}%** |")
            targets.append(("engine overhead ≤ 10% of end-to-end time", f"{e['engine_overhead'] * 100:.1f}%",
                            e["engine_overhead"] <= TARGETS["engine_overhead"]))
        w("")

    m = results.get("model")
    if m:
        w("## Local model: `imgpipe detect`, one image at a time")
        w("")
        w("SSD-MobileNet-v2 COCO through tract, in place of Rekognition: each photo of the thumbnail set")
        w("decoded as the DetectLabels step does (shrink-on-load to 640 px, oriented), then the network")
        w("(300×300 input) and its box decoding. One process, after one warm-up pass; the upload limit")
        w("is raised to 32 MiB here so that the 16.4 MB photo is included.")
        w("")
        w("| measure | value |")
        w("|---|---:|")
        w(f"| model ms/image, median (IQR) | **{fmt_q(m['model_ms'], 0)}** |")
        w(f"| decode ms/image, median (IQR) | {fmt_q(m['decode_ms'], 1)} |")
        w(f"| process start and model load | {m['startup_s']:.2f} s |")
        w(f"| peak RSS of the process | **{m['rss'] / 1e6:.0f} MB** |")
        w(f"| CPU time ÷ wall time | {m['cpu_per_wall']:.2f} cores |")
        w("")
        w("Per photo (decode + model, median ms; top labels): " + "; ".join(
            f"{name} {ms:.0f} ms ({', '.join(m['labels'].get(name, [])) or 'no labels'})"
            for name, ms in m["per_image_ms"].items()) + ".")
        w("")

    for section in results.get("extra_sections", []):
        lines.extend(section["lines"])
        targets.extend(section.get("targets", []))

    if results.get("skipped"):
        w("## Not measured in this run")
        w("")
        for s in results["skipped"]:
            w(f"- {s}")
        w("")

    w("## Targets")
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    for name, measured, ok in targets:
        w(f"| {name} | {measured} | {verdict(ok)} |")
    w("")
    if args.notes_file and os.path.exists(args.notes_file):
        with open(args.notes_file) as f:
            w(f.read().rstrip())
        w("")
    return "\n".join(lines)


def megapixels(path):
    w, h = Image.open(path).size
    return w * h / 1e6


# ---------------------------------------------------------------- main


def load_section_of(path):
    """bench/load.py's section of the report (between its markers), if there is one."""
    begin, end = load.BEGIN, load.END
    try:
        doc = open(path).read()
    except FileNotFoundError:
        return None
    if begin not in doc or end not in doc:
        return None
    return begin + doc.split(begin, 1)[1].split(end, 1)[0] + end


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", required=True, help="the unpacked mate-backgrounds folder")
    p.add_argument("--thumbnail-bench", required=True, help="imgpipe-imaging's thumbnail_bench example")
    p.add_argument("--function", action="append", default=[], metavar="NAME=PATH", help="a Lambda function binary")
    p.add_argument("--imgpipe", help="the imgpipe binary (end to end)")
    p.add_argument("--model", help="the model file for imgpipe (default: its own lookup)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--only", help="comma-separated: thumbnails,validate,cold_start,e2e,model")
    p.add_argument("--out", default=os.path.join(HERE, "..", "docs", "performance.md"))
    p.add_argument("--json", help="also write the raw results here")
    p.add_argument("--note", help="a line quoted under Machine")
    p.add_argument("--notes-file", default=os.path.join(HERE, "notes.md"), help="appended to the report")
    args = p.parse_args()
    load_section = load_section_of(args.out)
    labels_section = labels.section_of(args.out)
    args.function = dict(item.split("=", 1) for item in args.function)
    args.function_env = {}
    only = set(args.only.split(",")) if args.only else {"thumbnails", "validate", "cold_start", "e2e", "model"}
    tools = Tools(args)
    info = machine_info(tools)
    results = {"skipped": []}
    work = tempfile.mkdtemp(prefix="imgpipe-bench-")
    try:
        if "thumbnails" in only:
            results["thumbnails"] = bench_thumbnails(tools, args.photos, args.rounds, args.passes)
        if "validate" in only:
            results["validate"] = bench_validate(tools, args.photos, work, 2000)
            log("validate done")
        if "e2e" in only:
            if args.imgpipe:
                results["e2e"] = bench_e2e(tools, args.photos, work)
                log("end to end done")
            else:
                results["skipped"].append("end to end: the imgpipe binary was not built")
        if "model" in only:
            if args.imgpipe:
                results["model"] = bench_model(tools, args.photos, args.rounds)
                log("local model done")
            else:
                results["skipped"].append("local model: the imgpipe binary was not built")
        if "cold_start" in only:
            if args.function:
                results["cold_start"] = bench_cold_start(tools, max(args.rounds, 5) * 2)
                log("cold start done")
            else:
                results["skipped"].append("cold start: no function binary was built")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(results, info, args)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    if load_section:
        # bench/load.py's section is its own: put it back where load.py would.
        load.write_section(args.out, load_section)
    if labels_section:
        labels.write_section(args.out, labels_section)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    log(f"wrote {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
