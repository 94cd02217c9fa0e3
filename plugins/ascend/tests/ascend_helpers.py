"""Helpers of the Ascend plugin's tests: building the fake CANN, running a script against it,
reading its call log."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKE = HERE / "fake_cann"
#: operators the "older CANN" fixture lacks: sub has another way (aclnnAdd with alpha -1), atan2 none
HIDDEN = ("aclnnSub", "aclnnAtan2")
LIBRARIES = {  # the fake's libraries, as CANN splits them, and their sources
    "libascendcl.so": ["fake_acl.c"],
    "libnnopbase.so": ["fake_nnopbase.c"],
    "libopapi.so": ["fake_opapi.c", "fake_kernels.c", "fake_kernels_nd.c"],
}


def _cc() -> str:
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0]
    return cc if shutil.which(cc) else "cc"


def build_fake_cann(home: Path, hide=()) -> Path:
    """Compiles the fake CANN into ``home/lib64`` (the layout of a toolkit, found through
    ``ASCEND_HOME_PATH=home``) and returns ``home``. ``hide``: aclnn operators to leave out of
    libopapi.so (both phases), as an older CANN would lack them."""
    lib = home / "lib64"
    lib.mkdir(parents=True, exist_ok=True)
    for name, sources in LIBRARIES.items():
        cmd = [_cc(), "-shared", "-fPIC", "-O1", "-Wall", "-Werror", f"-I{FAKE}", "-o", str(lib / name),
               *[str(FAKE / s) for s in sources]]
        if name != "libascendcl.so":  # the state lives in libascendcl.so
            cmd += [f"-L{lib}", "-lascendcl", "-Wl,-rpath,$ORIGIN"]
        if name == "libopapi.so" and hide:
            script = lib.parent / "hide.map"
            hidden = "; ".join(f"{op}; {op}GetWorkspaceSize" for op in hide)
            script.write_text(f"{{ global: *; local: {hidden}; }};\n")
            cmd.append(f"-Wl,--version-script={script}")
        cmd += ["-lpthread", "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"building {name} failed:\n{proc.stderr}"
    return home


@dataclass
class Call:
    """One logged call of the fake: its name, its key=value fields, its return code."""
    name: str
    fields: dict = field(default_factory=dict)
    rc: int = 0
    line: str = ""

    def __getitem__(self, key):
        return self.fields[key]

    def get(self, key, default=None):
        return self.fields.get(key, default)


_LINE = re.compile(r"^(\w+)(.*) -> (-?\d+)$")


def parse_log(path: Path) -> list:
    calls = []
    if not path.exists():
        return calls
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        assert m, f"unparsable fake CANN log line: {line!r}"
        fields = dict(kv.split("=", 1) for kv in m.group(2).split())
        calls.append(Call(m.group(1), fields, int(m.group(3)), line))
    return calls


PRELUDE = """
import json, sys
def emit(value):
    print("@@RESULT@@" + json.dumps(value))
"""


def clean_env(home: Path, log: Path, **extra) -> dict:
    """The environment of a script using the fake CANN at ``home``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FAKE_ACL_", "ASCEND_", "DEEPSEEK_STRICT", "DEEPSEEK_ASCEND_"))}
    env.update({"ASCEND_HOME_PATH": str(home), "FAKE_ACL_LOG": str(log)})
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_script(script: str, home: Path, tmp: Path, *, expect_fail: bool = False, **env_extra):
    """Runs ``script`` (dedented) in a fresh interpreter over the fake CANN at ``home``;
    returns ``(result, calls)``. With ``expect_fail`` the script must exit non-zero and
    ``result`` is its stderr."""
    log = tmp / "cann.log"
    if log.exists():
        log.unlink()
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(script)], env=clean_env(home, log, **env_extra),
                          cwd=tmp, capture_output=True, text=True, timeout=300)
    if expect_fail:
        assert proc.returncode != 0, f"the script should have failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stderr, parse_log(log)
    assert proc.returncode == 0, f"script failed ({proc.returncode}):\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    results = [json.loads(ln[len("@@RESULT@@"):]) for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    return (results[-1] if results else None), parse_log(log)


def calls_named(calls, *names):
    return [c for c in calls if c.name in names]
