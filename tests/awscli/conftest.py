"""A real `imgpipe serve --port 0` for the AWS CLI tests, and the CLI pointed at it the way a user
does it: with the lines `imgpipe env --data DIR` prints, nothing else."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180


def imgpipe_bin() -> str:
    """IMGPIPE_BIN, else the debug binary in cargo's target directory."""
    if os.environ.get("IMGPIPE_BIN"):
        return os.environ["IMGPIPE_BIN"]
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return str(Path(json.loads(out.stdout)["target_directory"]) / "debug" / "imgpipe")


class Serve:
    """`imgpipe serve --port 0 --data DIR [args]`, stopped at the end of the session."""

    def __init__(self, data: Path, args: list[str], env: dict[str, str]):
        self.data = data
        self.log = data / "serve.log"
        self.banner: list[str] = []
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [imgpipe_bin(), "serve", "--port", "0", "--data", str(data), *args],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True, env=env,
            )
        deadline = time.time() + START_TIMEOUT
        for line in self.proc.stdout:
            self.banner.append(line.rstrip("\n"))
            if "Step Functions:" in line or time.time() > deadline:
                break
        if not any("Step Functions:" in line for line in self.banner):
            self.stop()
            raise RuntimeError(f"imgpipe serve printed no endpoints: {self.banner}\n{self.log.read_text()[-4000:]}")
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def endpoint(self, name: str) -> str:
        """The URL printed after `name:` (e.g. "Step Functions"); the page's for "page"."""
        for line in self.banner:
            if name == "page" and line.startswith("imgpipe is running at "):
                return line.split()[4].rstrip("/")
            if line.strip().startswith(f"{name}:"):
                return line.split()[-1]
        raise KeyError(name)

    def password(self) -> str:
        """The first user's password, printed once on a new data directory."""
        for line in self.banner:
            if line.startswith("Created the first user:"):
                return line.split("password:")[1].split()[0]
        raise KeyError("no first-user line")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def env_lines(data: Path) -> dict[str, str]:
    """What `eval "$(imgpipe env --data DIR)"` sets."""
    out = subprocess.run([imgpipe_bin(), "env", "--data", str(data)], check=True, capture_output=True, text=True)
    variables = {}
    for line in out.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, line
        name, value = words[1].split("=", 1)
        variables[name] = value
    return variables


class Aws:
    """The AWS CLI from PyPI (`python -m awscli`) with only the environment `imgpipe env` gives it."""

    def __init__(self, variables: dict[str, str], home: Path):
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        base.update(
            AWS_CONFIG_FILE=str(home / "no-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
            AWS_DEFAULT_OUTPUT="json",
            AWS_PAGER="",
            HOME=str(home),
        )
        base.update(variables)
        self.env = base

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "awscli", *args]
        out = subprocess.run(command, capture_output=True, text=True, env={**self.env, **(env or {})}, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError(f"aws {shlex.join(args)} failed ({out.returncode}): {out.stderr}")
        return out

    def json(self, *args: str) -> dict:
        out = self.run(*args).stdout
        return json.loads(out) if out.strip() else {}


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="imgpipe-awscli-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("IMGPIPE_") and k.endswith("PORT"))}
    env.setdefault("IMGPIPE_TIME_SCALE", "0.01")
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def stack(workdir):
    """The product as `scripts/run.sh` serves it, on free ports."""
    data = workdir / "data"
    data.mkdir()
    server = Serve(data, [], serve_env())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws(stack, workdir) -> Aws:
    return Aws(env_lines(stack.data), workdir)


@pytest.fixture(scope="session")
def waiting_stack(workdir):
    """A second stack whose state machine waits an hour: executions that stay RUNNING to stop."""
    data = workdir / "waiting"
    data.mkdir()
    definition = workdir / "wait.asl.json"
    definition.write_text(json.dumps({
        "StartAt": "Wait",
        "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }))
    server = Serve(data, ["--definition", str(definition)], serve_env(IMGPIPE_TIME_SCALE="1"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jsonata_stack(workdir):
    """A third stack running the pipeline written in JSONata with workflow variables."""
    data = workdir / "jsonata"
    data.mkdir()
    definition = ROOT / "statemachine" / "examples" / "pipeline.jsonata.asl.json"
    server = Serve(data, ["--definition", str(definition)], serve_env())
    yield server
    server.stop()
