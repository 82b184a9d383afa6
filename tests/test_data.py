"""ssloserve.data: require_data, the one way a doctest that reads real data is skipped."""

from __future__ import annotations

import pytest

from ssloserve.data import has_data, require_data


def test_require_data_skips_naming_the_file_and_its_source(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLOSERVE_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(pytest.skip.Exception, match="profiling/x.csv.*saeid93/sponge"):
        require_data("profiling/x.csv")
    (tmp_path / "profiling").mkdir()
    (tmp_path / "profiling" / "x.csv").write_text("a\n1\n")
    assert has_data("profiling/x.csv") and require_data("profiling/x.csv") is None
