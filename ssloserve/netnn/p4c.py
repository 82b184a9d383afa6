"""Finding p4lang's tools and compiling a program with p4c for BMv2 (chapter 05, NetNN).

p4c and BMv2 have no Debian or PyPI package. Where :func:`find_tools` finds them on ``PATH``
the tests run; elsewhere they skip with :data:`INSTALL_HELP`:

- **p4lang packages** (Ubuntu 20.04/22.04/24.04, Debian): add the p4lang repository from the
  openSUSE Build Service (``https://software.opensuse.org/download.html?project=home:p4lang&package=p4lang-p4c``),
  then ``sudo apt install p4lang-p4c p4lang-bmv2``;
- **container images**: ``docker pull p4lang/p4c`` and ``docker pull p4lang/behavioral-model``;
- **from source**: github.com/p4lang/p4c (its BMv2 back end is enough) and
  github.com/p4lang/behavioral-model, installed under a prefix on ``PATH``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolError, ToolNotFoundError

__all__ = [
    "INSTALL_HELP",
    "find_tools",
    "require_tools",
    "tool_versions",
    "Compiled",
    "compile_program",
]

INSTALL_HELP = (
    "p4c and BMv2 (simple_switch, simple_switch_CLI) are needed. Install the p4lang packages "
    "(add the home:p4lang repository from software.opensuse.org, then `apt install p4lang-p4c "
    "p4lang-bmv2`) or use the p4lang/p4c and p4lang/behavioral-model container images."
)

_TOOLS = {
    "p4c": ("p4c", "p4c-bm2-ss"),
    "simple_switch": ("simple_switch",),
    "simple_switch_CLI": ("simple_switch_CLI",),
}


def find_tools() -> dict[str, str | None]:
    """Paths of p4c, simple_switch and simple_switch_CLI on ``PATH`` (None when missing).

    Examples
    --------
    >>> sorted(find_tools())
    ['p4c', 'simple_switch', 'simple_switch_CLI']
    """
    out: dict[str, str | None] = {}
    for key, names in _TOOLS.items():
        out[key] = next((p for p in (shutil.which(n) for n in names) if p), None)
    return out


def require_tools() -> dict[str, str]:
    """The tool paths, or :class:`~ssloserve.errors.ToolNotFoundError` saying how to get them."""
    tools = find_tools()
    missing = [k for k, v in tools.items() if v is None]
    if missing:
        raise ToolNotFoundError(f"not found on PATH: {', '.join(missing)}. {INSTALL_HELP}")
    return tools  # type: ignore[return-value]


def tool_versions() -> dict[str, str]:
    """The first line ``--version`` prints for p4c and simple_switch (needs the tools)."""
    tools = require_tools()
    out = {}
    for tool in ("p4c", "simple_switch"):
        run = subprocess.run([tools[tool], "--version"], capture_output=True, text=True)
        out[tool] = ((run.stdout or run.stderr).strip().splitlines() or ["?"])[0]
    return out


@dataclass(frozen=True)
class Compiled:
    """One program compiled by p4c: the BMv2 JSON, how long it took, what p4c warned."""

    json: Path
    seconds: float
    json_bytes: int
    warnings: tuple[str, ...]


def compile_program(
    p4_file,
    out_dir,
    p4c: str | None = None,
    timeout_s: float = 1800.0,
    memory_gb: float | None = None,
) -> Compiled:
    """Compile one program with p4c for BMv2/v1model.

    Raises :class:`~ssloserve.errors.ToolError` with p4c's message when it fails, takes
    longer than ``timeout_s`` or needs more than ``memory_gb`` of address space (None: no
    limit); its warnings (lines naming ``warning``) come back in :attr:`Compiled.warnings`.
    """
    p4c = p4c or require_tools()["p4c"]
    p4_file, out_dir = Path(p4_file), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / (p4_file.stem + ".json")
    if Path(p4c).name == "p4c-bm2-ss":
        cmd = [p4c, "--arch", "v1model", "-o", str(json_path), str(p4_file)]
    else:
        cmd = [p4c, "--target", "bmv2", "--arch", "v1model", "-o", str(out_dir), str(p4_file)]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            preexec_fn=None if memory_gb is None else _limit_memory(memory_gb),
        )
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"p4c did not finish {p4_file} within {timeout_s:.0f} s") from e
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise ToolError(f"p4c failed on {p4_file}:\n{(res.stderr or res.stdout)[-4000:]}")
    text = (res.stderr + res.stdout).splitlines()
    warnings = tuple(line for line in text if re.search(r"\bwarning\b", line, re.I))
    return Compiled(json_path, seconds, json_path.stat().st_size, warnings)


def _limit_memory(gb: float):
    def limit():  # runs in the child before p4c starts
        import resource

        n = int(gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (n, n))

    return limit
