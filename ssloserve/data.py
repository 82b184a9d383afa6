"""Where real data lives: ``$SSLOSERVE_DATA`` (CI: ``../shared/data``), else a user cache.

The project never ships these files; each one's public source is named when it is missing.
Every file or folder that :func:`data_path` or :func:`project_data_path` resolves is
remembered for the life of the process (:func:`files_used`), so that a notebook's run can
record which data its outputs came from (``book/execute.py``).
A docstring example that reads real data starts with ``>>> require_data(relpath)``
(:func:`require_data`), so that without the data it is skipped, visibly, instead of
printing a typed-in answer.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataNotFoundError, TraceFormatError

__all__ = [
    "SOURCES",
    "data_dir",
    "data_path",
    "has_data",
    "require_data",
    "project_data_path",
    "read_table",
    "files_used",
]

#: Public origin of every real data file the library reads (see each folder's SOURCE.md).
SOURCES: dict[str, str] = {
    "workload": "reconfigurable-ml-pipeline/ipa on GitHub, load_tester/barazmoon/twitter/workload.tbz2 "
    "(Twitter trace used by IPA, Sponge and InfAdapter)",
    "network/belgium": "Belgium 4G/LTE dataset, van der Hooft et al., IEEE Comm. Letters 2016 "
    "(also in saeid93/sponge on GitHub)",
    "network/norway": "Norway 3G/HSDPA commute traces, Riiser et al., MMSys 2013 "
    "(cooked: confiwent/Real-world-bandwidth-traces on GitHub)",
    "network/5gophers": "5Gophers, Narayanan et al., WWW 2020 (CC-BY-4.0)",
    "network/sponge": "saeid93/sponge on GitHub, experiments/runner/notebooks/slas.csv",
    "profiling": "see SOURCE.md: saeid93/sponge, reconfigurable-ml-pipeline/ipa, InfAdapter, mehransi/Themis",
    "nids/cicids2017": "CIC-IDS2017 improved labels, Engelen et al. 2021 (samples in ScubaInstructor/fuh)",
    "nids/nsl_kdd": "NSL-KDD, Tavallaee et al. 2009 (University of New Brunswick CIC)",
    "nids/unsw_nb15": "UNSW-NB15, Moustafa & Slay 2015 (UNSW Canberra)",
}


#: (kind, relpath) -> absolute path of every file or folder resolved in this process, in
#: order; kind is "data" (under the data folder) or "project" (the project's data/ folder)
_USED: dict[tuple[str, str], Path] = {}


def files_used() -> list[tuple[str, str, Path]]:
    """The data files and folders resolved so far in this process, in order.

    Each is ``(kind, relpath, path)``: ``kind`` is ``"data"`` for a real data file found by
    :func:`data_path` (``relpath`` under ``$SSLOSERVE_DATA``) or ``"project"`` for a file of
    the project's own ``data/`` folder (:func:`project_data_path`). A folder is listed as
    the folder; its files are what was read. A file that was missing is not listed.

    Examples
    --------
    >>> p = project_data_path("emu_costs.json")
    >>> ("project", "emu_costs.json", p) in files_used()
    True
    """
    return [(kind, rel, path) for (kind, rel), path in _USED.items()]


def _source_for(relpath: str) -> str:
    """The public source of a data file: the longest key of SOURCES it starts with, else the
    first key of its top folder.

    Examples
    --------
    >>> _source_for("network/norway_hsdpa_cooked/norway_bus_1") == SOURCES["network/norway"]
    True
    >>> _source_for("network/other.csv") == SOURCES["network/belgium"]
    True
    >>> _source_for("elsewhere/x")
    'see the SOURCE.md files of the ssloserve data folder'
    """
    keys = [k for k in SOURCES if relpath.startswith(k)]
    if not keys:
        top = relpath.split("/")[0]
        keys = [k for k in SOURCES if k.split("/")[0] == top][:1]
    if not keys:
        return "see the SOURCE.md files of the ssloserve data folder"
    return SOURCES[max(keys, key=len)]


def _candidates() -> list[Path]:
    out = []
    env = os.environ.get("SSLOSERVE_DATA")
    if env:
        out.append(Path(env).expanduser())
    cache = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    out.append(Path(cache) / "ssloserve" / "data")
    return out


def data_dir() -> Path | None:
    """The first existing data folder (``$SSLOSERVE_DATA``, then ``~/.cache/ssloserve/data``)."""
    for c in _candidates():
        if c.is_dir():
            return c
    return None


def data_path(relpath: str) -> Path:
    """Absolute path of a real data file, e.g. ``"workload/twitter_workload_per_second.tbz2"``.

    Raises :class:`~ssloserve.errors.DataNotFoundError` naming the public source when missing.

    Examples
    --------
    >>> require_data("profiling")
    >>> data_path("profiling").is_dir()
    True
    """
    searched = []
    for c in _candidates():
        p = c / relpath
        searched.append(c)
        if p.exists():
            _USED.setdefault(("data", relpath), p.resolve())
            return p
    raise DataNotFoundError(relpath, source=_source_for(relpath), searched=searched)


def has_data(relpath: str) -> bool:
    """True when :func:`data_path` would find ``relpath``."""
    return any((c / relpath).exists() for c in _candidates())


def require_data(relpath: str) -> None:
    """Skip the rest of a doctest (or test) when the real data file ``relpath`` is missing.

    The one way a docstring example that reads real data says so: its first line is
    ``>>> require_data("profiling/...")``. With the file present it does nothing; without
    it, under pytest it calls ``pytest.skip`` (the docstring counts as skipped, with the
    file named in the ``-ra`` summary, so a run without data is visible), elsewhere it
    raises :class:`unittest.SkipTest`. Examples before that line have already run.

    Parameters
    ----------
    relpath : a path under the data folder, as for :func:`data_path`

    Examples
    --------
    >>> require_data("profiling")          # present here, or this docstring is skipped
    >>> data_path("profiling").is_dir()
    True
    """
    if has_data(relpath):
        return
    msg = f"real data {relpath!r} absent (set $SSLOSERVE_DATA; source: {_source_for(relpath)})"
    try:
        import pytest
    except ImportError:  # pragma: no cover - pytest is how the doctests run
        import unittest

        raise unittest.SkipTest(msg) from None
    pytest.skip(msg)


def project_data_path(name: str) -> Path:
    """A file the project generates and ships in its own ``data/`` folder (installed or in-tree).

    It is remembered by :func:`files_used` when it exists.
    """
    p = Path(__file__).resolve().parent.parent / "data" / name
    if p.exists():
        _USED.setdefault(("project", name), p)
    return p


def _data_lines(path: Path, n_rows: int, header_rows: int) -> list[int]:
    """1-based file lines of the first ``n_rows`` data rows of a text table (blank lines
    skipped, as pandas does; a compressed file is assumed to have none)."""
    if path.suffix in (".zip", ".gz", ".bz2", ".xz"):
        return [r + header_rows + 1 for r in range(n_rows)]
    out: list[int] = []
    with open(path, encoding="utf8", errors="replace") as f:
        for i, line in enumerate(f, start=1):
            if line.strip():
                out.append(i)
                if len(out) == n_rows + header_rows:
                    break
    return out[header_rows:]


def read_table(path, numeric=(), text=(), names=None, required=(), line_column=None, **read_csv_kw):
    """Read a CSV table (plain or compressed) and check the columns a loader uses.

    Parameters
    ----------
    path : the file
    numeric : columns that must hold numbers (empty cells allowed); converted to numbers
    text : columns that must exist
    names : column names of a file without a header row (extra columns are dropped)
    required : columns in which no cell may be empty
    line_column : if given, a column of that name holds each row's line in the file (for
        checks a caller makes afterwards)
    read_csv_kw : passed to :func:`pandas.read_csv`

    Returns
    -------
    The pandas DataFrame.

    Raises
    ------
    TraceFormatError : an empty or unreadable file, a missing column, or a cell that is not
        a number, with the file and the line

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(f, "w").write("a,b\\n1,x\\n\\nfast,y\\n")
    >>> read_table(f, numeric=["a"], text=["b"])
    Traceback (most recent call last):
    ...
    ssloserve.errors.TraceFormatError: ...t.csv, line 4: column 'a' holds 'fast', not a number
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    try:
        d = pd.read_csv(path, header=None if names is not None else "infer", **read_csv_kw)
    except pd.errors.EmptyDataError:
        raise TraceFormatError("empty file", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TraceFormatError(f"not a readable CSV table ({e})", path=path) from None
    header_rows = 1
    if d.empty:
        raise TraceFormatError("no data rows", path=path)

    def line(row: int) -> int | None:
        lines = _data_lines(path, row + 1, header_rows)
        return lines[row] if row < len(lines) else None

    if names is not None:
        header_rows = 0
        if d.shape[1] < len(names):
            raise TraceFormatError(
                f"{d.shape[1]} columns, expected at least {len(names)} ({', '.join(names[-3:])}, ...)",
                path=path,
                line=1,
            )
        d = d.iloc[:, : len(names)]
        d.columns = list(names)
    need = list(dict.fromkeys([*numeric, *text, *required]))
    missing = [c for c in need if c not in d.columns]
    if missing:
        raise TraceFormatError(
            f"missing column(s) {missing}; this loader reads {need}", path=path, line=1
        )
    for c in numeric:
        v = pd.to_numeric(d[c], errors="coerce")
        bad = (v.isna() & d[c].notna()).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TraceFormatError(
                f"column {c!r} holds {d[c].iloc[i]!r}, not a number",
                path=path,
                line=line(i),
            )
        d[c] = v
    for c in required:
        empty = d[c].isna().to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise TraceFormatError(
                f"column {c!r} is empty (missing cell)",
                path=path,
                line=line(i),
            )
    if line_column is not None:
        d[line_column] = _data_lines(path, len(d), header_rows)
    return d
