"""ssloserve.data: require_data, the one way a doctest that reads real data is skipped, and
files_used, the record of the data a process read."""

from __future__ import annotations

import pytest

from ssloserve.data import data_path, files_used, has_data, require_data


def test_require_data_skips_naming_the_file_and_its_source(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(pytest.skip.Exception, match="profiling/x.csv.*saeid93/sponge"):
        require_data("profiling/x.csv")
    (tmp_path / "profiling").mkdir()
    (tmp_path / "profiling" / "x.csv").write_text("a\n1\n")
    assert has_data("profiling/x.csv") and require_data("profiling/x.csv") is None


def test_files_used_records_what_data_path_found_and_only_that(monkeypatch, tmp_path):
    from ssloserve.errors import DataNotFoundError

    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "network").mkdir()
    (tmp_path / "network" / "t.log").write_text("1 2\n")
    found = data_path("network/t.log")
    assert ("data", "network/t.log", found.resolve()) in files_used()
    with pytest.raises(DataNotFoundError):
        data_path("network/absent.log")
    assert not [u for u in files_used() if u[1] == "network/absent.log"]
