"""The closed forms of ssloserve.queueing against their textbook definitions, computed
another way (factorial sums, the general Pollaczek-Khinchine formula, exact fractions)."""

from __future__ import annotations

import math
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssloserve.queueing import (
    erlang_c,
    jackson_chain_sojourn_s,
    littles_law,
    md1_wait_s,
    mg1_wait_s,
    mm1_wait_s,
    mmc_wait_s,
)


def erlang_c_by_sums(c: int, a: F) -> F:
    """Erlang C from its definition, in exact fractions:
    (a^c / c! / (1 - rho)) / (sum_{k<c} a^k / k! + a^c / c! / (1 - rho))."""
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(0, 999))
def test_erlang_c_recursion_equals_the_definition(c, permille):
    a = F(c * permille, 1000)  # rho in [0, 0.999]
    assert erlang_c(c, float(a)) == pytest.approx(float(erlang_c_by_sums(c, a)), rel=1e-9)


def test_special_cases_agree():
    # M/M/1 is Erlang C with one server, and P(wait) = rho
    for rho in (0.1, 0.5, 0.8, 0.95):
        assert erlang_c(1, rho) == pytest.approx(rho)
        assert mmc_wait_s(rho * 100, 100.0, 1) == pytest.approx(mm1_wait_s(rho * 100, 100.0))
        # M/D/1 and M/M/1 are M/G/1 with variance 0 and mean^2
        assert md1_wait_s(rho * 100, 100.0) == pytest.approx(mg1_wait_s(rho * 100, 0.01, 0.0))
        assert mm1_wait_s(rho * 100, 100.0) == pytest.approx(mg1_wait_s(rho * 100, 0.01, 1e-4))
    # more servers, same utilisation: less waiting (pooling)
    assert mmc_wait_s(320.0, 100.0, 4) < mmc_wait_s(80.0, 100.0, 1)


def test_unstable_queues_wait_forever_and_bad_input_is_refused():
    assert mm1_wait_s(100.0, 100.0) == math.inf and md1_wait_s(120.0, 100.0) == math.inf
    assert mmc_wait_s(400.0, 100.0, 4) == math.inf and erlang_c(4, 4.0) == 1.0
    assert mg1_wait_s(100.0, 0.01, 0.0) == math.inf
    with pytest.raises(ValueError, match="integer >= 1"):
        mmc_wait_s(1.0, 1.0, 0)
    with pytest.raises(ValueError, match="mu > 0"):
        mm1_wait_s(1.0, 0.0)


def test_little_and_jackson():
    # M/M/1 at rho 0.5, mu 100: W = Wq + 1/mu = 20 ms, so L = 50 x 0.02 = 1 = rho / (1 - rho)
    w = mm1_wait_s(50.0, 100.0) + 0.01
    assert littles_law(50.0, w) == pytest.approx(0.5 / (1 - 0.5))
    # by hand: M/M/1 stations take 1 / (mu - lam) (1/50 and 1/10 s); the M/M/2 one (mu 200,
    # a = 1/4, rho = 1/8) has C = (1/32 / (7/8)) / (5/4 + 1/32 / (7/8)) = 1/36, so it takes
    # (1/36) / (400 - 50) + 1/200 s
    chain = [(100.0, 1), (200.0, 2), (60.0, 1)]
    exact = F(1, 50) + F(1, 36) / 350 + F(1, 200) + F(1, 10)
    assert jackson_chain_sojourn_s(50.0, chain) == pytest.approx(float(exact), rel=1e-12)
