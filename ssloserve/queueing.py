"""Closed forms of queueing theory that the simulator is checked against (chapter 00_tour).

``tests/test_sim_theory.py`` runs the simulator on Poisson arrivals and checks its mean
waiting times against these formulas within 2%; the tour shows them next to a simulation.

Symbols: ``lam`` arrival rate (1/s), ``mu`` service rate of one server (1/s), ``c`` servers,
``a = lam / mu`` the offered load (Erlangs; :func:`ssloserve.latency.offered_load` is the
same quantity for a replica serving batches), ``rho = a / c`` the utilisation. Waiting times
are in seconds and count the time in queue only (add ``1 / mu`` for the time in system).
A queue with ``rho >= 1`` never settles: its mean wait is ``inf``.

- :func:`littles_law` -- L = lam W, for any stable queue;
- :func:`erlang_c` -- the probability that an arrival waits at an M/M/c queue;
- :func:`mmc_wait_s` -- mean wait at M/M/c, C(c, a) / (c mu - lam);
- :func:`mm1_wait_s` -- its one-server case, rho / (mu - lam);
- :func:`mg1_wait_s` -- Pollaczek-Khinchine for M/G/1, lam E[S^2] / (2 (1 - rho));
- :func:`md1_wait_s` -- its deterministic-service case, rho / (2 mu (1 - rho));
- :func:`jackson_chain_sojourn_s` -- mean time through a chain of M/M/c stations (Jackson).

References: L. Kleinrock, *Queueing Systems, Vol. 1*, 1975 (sections 2.1, 3.2, 3.5, 5.6);
J. R. Jackson, *Jobshop-like queueing systems*, Management Science 10(1), 1963.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = [
    "littles_law",
    "erlang_c",
    "mmc_wait_s",
    "mm1_wait_s",
    "mg1_wait_s",
    "md1_wait_s",
    "jackson_chain_sojourn_s",
]


def _check(lam: float, mu: float, c: int = 1) -> None:
    if not (lam >= 0 and mu > 0):
        raise ValueError(f"need lam >= 0 and mu > 0, got lam={lam!r}, mu={mu!r}")
    if not (isinstance(c, int) and c >= 1):
        raise ValueError(f"the number of servers must be an integer >= 1, got {c!r}")


def littles_law(lam: float, w_s: float) -> float:
    """Little's law L = lam W: mean number of requests in a system from its throughput and
    mean time in it.

    It holds for any stable system (queue, servers or both) whatever the distributions.

    Parameters
    ----------
    lam : requests per second through the system
    w_s : mean time a request spends in it, seconds

    Returns
    -------
    Mean number of requests in the system.

    Examples
    --------
    >>> littles_law(10.0, 0.5)       # 10 requests/s staying half a second: 5 inside
    5.0
    """
    return lam * w_s


def erlang_c(c: int, a: float) -> float:
    """Erlang's C formula: probability that an arrival at an M/M/c queue must wait.

    Computed with the Erlang B recursion ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``
    and ``C = B(c) / (1 - rho (1 - B(c)))`` (stable for hundreds of servers).

    Parameters
    ----------
    c : number of servers, at least 1
    a : offered load lam / mu, Erlangs, >= 0

    Returns
    -------
    A probability; 1 when ``a >= c`` (every arrival waits in an unstable queue).

    Examples
    --------
    >>> erlang_c(1, 0.8)             # one server: the probability it is busy, rho
    0.8
    >>> erlang_c(2, 1.0)             # (1/2 / (1/2)) / (1 + 1 + 1) = 1/3
    0.3333333333333333
    """
    _check(a, 1.0, c)
    if a >= c:
        return 1.0
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mmc_wait_s(lam: float, mu: float, c: int) -> float:
    """Mean waiting time in queue of M/M/c: ``C(c, a) / (c mu - lam)`` seconds.

    Parameters
    ----------
    lam : Poisson arrival rate, 1/s
    mu : exponential service rate of one server, 1/s
    c : number of servers

    Examples
    --------
    >>> mmc_wait_s(1.0, 1.0, 2)      # C = 1/3, c mu - lam = 1
    0.3333333333333333
    >>> mmc_wait_s(80.0, 100.0, 1) == mm1_wait_s(80.0, 100.0)
    True
    >>> mmc_wait_s(3.0, 1.0, 2)
    inf
    """
    _check(lam, mu, c)
    if lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mm1_wait_s(lam: float, mu: float) -> float:
    """Mean waiting time in queue of M/M/1: ``rho / (mu - lam)`` seconds.

    Examples
    --------
    >>> round(mm1_wait_s(80.0, 100.0), 12)   # rho 0.8, 10 ms service: 0.8 / 20 = 40 ms
    0.04
    """
    _check(lam, mu)
    if lam >= mu:
        return math.inf
    return (lam / mu) / (mu - lam)


def mg1_wait_s(lam: float, mean_s: float, var_s2: float) -> float:
    """Pollaczek-Khinchine: mean waiting time in queue of M/G/1, ``lam E[S^2] / (2 (1 - rho))``.

    Parameters
    ----------
    lam : Poisson arrival rate, 1/s
    mean_s : mean service time E[S], seconds
    var_s2 : variance of the service time, seconds squared (0: deterministic; ``mean_s**2``:
        exponential)

    Examples
    --------
    >>> round(mg1_wait_s(80.0, 0.01, 0.0), 12)      # deterministic: half of M/M/1's 40 ms
    0.02
    >>> round(mg1_wait_s(80.0, 0.01, 0.0001), 12)   # exponential: M/M/1
    0.04
    """
    if not (lam >= 0 and mean_s > 0 and var_s2 >= 0):
        raise ValueError(
            f"need lam >= 0, mean_s > 0, var_s2 >= 0; got {lam!r}, {mean_s!r}, {var_s2!r}"
        )
    rho = lam * mean_s
    if rho >= 1:
        return math.inf
    return lam * (var_s2 + mean_s**2) / (2.0 * (1.0 - rho))


def md1_wait_s(lam: float, mu: float) -> float:
    """Mean waiting time in queue of M/D/1 (Pollaczek-Khinchine): ``rho / (2 mu (1 - rho))``.

    Deterministic service halves the M/M/1 wait at the same utilisation.

    Examples
    --------
    >>> round(md1_wait_s(50.0, 100.0), 12)   # rho 0.5: 0.5 / (2 x 100 x 0.5) = 5 ms
    0.005
    """
    _check(lam, mu)
    if lam >= mu:
        return math.inf
    rho = lam / mu
    return rho / (2.0 * mu * (1.0 - rho))


def jackson_chain_sojourn_s(lam: float, stations: Iterable[tuple[float, int]]) -> float:
    """Mean time through a chain of M/M/c stations fed by Poisson arrivals (Jackson's theorem).

    Each station behaves as an independent M/M/c queue with the same arrival rate, so the
    mean sojourn is the sum over stations of ``mmc_wait_s + 1 / mu``.

    Parameters
    ----------
    lam : Poisson arrival rate into the first station, 1/s
    stations : ``(mu, c)`` per station, in order

    Examples
    --------
    >>> round(jackson_chain_sojourn_s(50.0, [(100.0, 1), (100.0, 1)]), 12)   # 2 x (10 + 10 ms)
    0.04
    """
    return sum(mmc_wait_s(lam, mu, c) + 1.0 / mu for mu, c in stations)
