"""Idiomatic SimPy models of the queues ``benchmarks/bench_sim.py`` times ssloserve's simulator against.

Written the way the SimPy documentation writes them (a generator process per request, a
``Resource`` for the servers, ``env.timeout`` for service), with the same inputs (arrival
times and service times by batch size) and the same outputs (start and finish per
request), so the benchmark compares like with like and checks that both agree.
"""

from __future__ import annotations

import heapq

import numpy as np
import simpy

__all__ = ["mmc", "batching", "edf_drop", "edf_drop_one_process"]


def mmc(arrival_s: np.ndarray, service_s: np.ndarray, c: int = 1):
    """FIFO queue with ``c`` servers; request i needs ``service_s[i]``. Returns (start, finish)."""
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    n = len(arrival_s)
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)

    def request(i):
        with servers.request() as req:
            yield req
            start[i] = env.now
            yield env.timeout(service_s[i])
            finish[i] = env.now

    def source():
        last = 0.0
        for i, a in enumerate(arrival_s):
            yield env.timeout(a - last)
            last = a
            env.process(request(i))

    env.process(source())
    env.run()
    return start, finish


def batching(arrival_s: np.ndarray, service_by_k, b: int, c: int = 1):
    """Dynamic batching: a free server takes up to ``b`` queued requests (FIFO) and serves them
    together for ``service_by_k[k]``. Returns (start, finish)."""
    env = simpy.Environment()
    store = simpy.Store(env)
    n = len(arrival_s)
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)

    def server():
        while True:
            first = yield store.get()
            batch = [first]
            while store.items and len(batch) < b:
                batch.append((yield store.get()))
            t0 = env.now
            yield env.timeout(service_by_k[len(batch)])
            for i in batch:
                start[i] = t0
                finish[i] = env.now

    def source():
        last = 0.0
        for i, a in enumerate(arrival_s):
            yield env.timeout(a - last)
            last = a
            yield store.put(i)

    for _ in range(c):
        env.process(server())
    env.process(source())
    env.run()
    return start, finish


def edf_drop(arrival_s: np.ndarray, deadline_s: np.ndarray, service_s: float, c: int = 1):
    """Earliest-deadline-first queue that drops a request when it cannot finish by its deadline,
    the textbook way: a process per request and a ``PriorityResource`` keyed by deadline.

    Returns (start, finish, dropped) with ``dropped`` a boolean mask.
    """
    env = simpy.Environment()
    servers = simpy.PriorityResource(env, capacity=c)
    n = len(arrival_s)
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    dropped = np.zeros(n, dtype=bool)

    def request(i):
        with servers.request(priority=deadline_s[i]) as req:
            yield req
            if deadline_s[i] < env.now + service_s:
                dropped[i] = True
                return
            start[i] = env.now
            yield env.timeout(service_s)
            finish[i] = env.now

    def source():
        last = 0.0
        for i, a in enumerate(arrival_s):
            yield env.timeout(a - last)
            last = a
            env.process(request(i))

    env.process(source())
    env.run()
    return start, finish, dropped


def edf_drop_one_process(
    arrival_s: np.ndarray, deadline_s: np.ndarray, service_s: float, c: int = 1
):
    """The same EDF queue hand-optimised for SimPy: one server process and a heap, so a
    dropped request costs no SimPy event (a faster, less idiomatic reference).

    Returns (start, finish, dropped).
    """
    env = simpy.Environment()
    n = len(arrival_s)
    start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    dropped = np.zeros(n, dtype=bool)
    waiting: list = []
    wake = {"ev": env.event()}

    def server():
        while True:
            while not waiting:
                yield wake["ev"]
            while waiting:
                d, i = heapq.heappop(waiting)
                if d < env.now + service_s:
                    dropped[i] = True
                    continue
                start[i] = env.now
                yield env.timeout(service_s)
                finish[i] = env.now
                break

    def source():
        last = 0.0
        for i, a in enumerate(arrival_s):
            yield env.timeout(a - last)
            last = a
            heapq.heappush(waiting, (deadline_s[i], i))
            ev, wake["ev"] = wake["ev"], env.event()
            ev.succeed()

    for _ in range(c):
        env.process(server())
    env.process(source())
    env.run()
    return start, finish, dropped
