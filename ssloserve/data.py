"""Where real data lives: ``$SSLOSERVE_DATA`` (CI: ``../shared/data``), else a user cache.

The project never ships these files; each one's public source is named when it is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataNotFoundError

__all__ = ["SOURCES", "data_dir", "data_path", "has_data", "project_data_path"]

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
    >>> import os
    >>> os.environ.get("SSLOSERVE_DATA") is None or data_path("profiling").is_dir()
    True
    """
    searched = []
    for c in _candidates():
        p = c / relpath
        searched.append(c)
        if p.exists():
            return p
    raise DataNotFoundError(relpath, source=_source_for(relpath), searched=searched)


def has_data(relpath: str) -> bool:
    """True when :func:`data_path` would find ``relpath``."""
    return any((c / relpath).exists() for c in _candidates())


def project_data_path(name: str) -> Path:
    """A file the project generates and ships in its own ``data/`` folder (installed or in-tree)."""
    return Path(__file__).resolve().parent.parent / "data" / name
