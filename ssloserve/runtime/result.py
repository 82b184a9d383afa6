"""The one record every runtime returns: per-request outcomes, a timeline, and a summary.

Columnar (numpy arrays), so hours of trace (tens of millions of requests) fit in memory.
Chapter: 00_tour explains it; every chapter reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..outcomes import DROPPED, LATE, PENDING, REASONS, SERVED, STATUSES

__all__ = [
    "RequestLog",
    "Result",
    "insert_rates",
    "TIMELINE_COLUMNS",
    "EVENT_COLUMNS",
    "end_of_run",
]

#: Columns of ``Result.timeline`` that every runtime records (``rate_rps`` is inserted).
TIMELINE_COLUMNS = ("t_s", "cores", "replicas", "config", "target", "actuation")
#: Columns of ``Result.events`` that every runtime records (a runtime may add more).
EVENT_COLUMNS = ("t_s", "stage", "kind", "state", "detail")


def insert_rates(timeline: pd.DataFrame, arrival_s, horizon_s: float) -> pd.DataFrame:
    """Insert the ``rate_rps`` column into a timeline (one row per interval, column ``t_s``):
    arrivals in each interval divided by its length, the last interval ending at the horizon.

    Examples
    --------
    >>> tl = pd.DataFrame({"t_s": [0.0, 2.0]})
    >>> insert_rates(tl, np.array([0.1, 0.5, 1.5, 2.2, 3.9]), 4.0)["rate_rps"].tolist()
    [1.5, 1.0]
    """
    if len(timeline):
        t = timeline["t_s"].to_numpy(dtype=float)
        nxt = np.append(t[1:], max(horizon_s, t[-1] + 1e-9))
        lo = np.searchsorted(arrival_s, t, side="left")
        hi = np.searchsorted(arrival_s, nxt, side="left")
        timeline.insert(1, "rate_rps", (hi - lo) / np.maximum(nxt - t, 1e-9))
    return timeline


def end_of_run(
    log, runtime: str, *, stages, timeline, events, arrival_s, horizon_s: float, meta: dict
):
    """Every runtime's last step: the timeline and events as tables, the rates inserted,
    the records frozen into a :class:`Result` whose accounting is checked.

    Parameters
    ----------
    log : the run's :class:`RequestLog` (every request with a final status)
    runtime : ``"sim"``, ``"emu"`` or ``"ray"``
    stages : stage names in order
    timeline : rows of :data:`TIMELINE_COLUMNS` (tuples or dicts), or a DataFrame of them
    events : rows of :data:`EVENT_COLUMNS` (tuples or dicts; dicts may carry more keys)
    arrival_s, horizon_s : the arrivals and the horizon, for the timeline's ``rate_rps``
    meta : the run's ``Result.meta``

    Examples
    --------
    >>> log = RequestLog(np.array([0.0, 0.5]), np.array([1.0, 1.5]), ["a"])
    >>> log.finish(0, 0.2); log.finish(1, 1.6)
    >>> r = end_of_run(log, "sim", stages=["a"], timeline=[(0.0, 1.0, 1, None, None, {})],
    ...                events=[], arrival_s=np.array([0.0, 0.5]), horizon_s=2.0, meta={})
    >>> r.counts(), r.timeline["rate_rps"].tolist(), list(r.events.columns)
    ({'served': 1, 'late': 1, 'dropped': 0}, [1.0], ['t_s', 'stage', 'kind', 'state', 'detail'])
    """
    tl = timeline
    if not isinstance(tl, pd.DataFrame):
        tl = pd.DataFrame(list(tl), columns=list(TIMELINE_COLUMNS))
    tl = insert_rates(tl, arrival_s, horizon_s)
    events = list(events)
    if events and isinstance(events[0], dict):
        ev = pd.DataFrame(events)
    else:
        ev = pd.DataFrame(events, columns=list(EVENT_COLUMNS))
    return log.to_result(runtime, stages=stages, timeline=tl, events=ev, meta=meta)


class RequestLog:
    """A builder of per-request columns that a runtime fills as requests move.

    Parameters
    ----------
    arrival_s : arrival times (seconds from the start), sorted
    deadline_s : arrival + the request's own budget
    stages : stage names in topological order

    Examples
    --------
    >>> log = RequestLog(np.array([0.0, 0.1]), np.array([0.5, 0.6]), ["a"])
    >>> log.stage_done("a", 0, queue_s=0.0, start_s=0.0, finish_s=0.2, replica=0)
    >>> log.finish(0, 0.2); log.drop(1, "deadline_passed", 0.6)
    >>> r = log.to_result("sim", stages=["a"])
    >>> r.summary()["violation_pct"]
    50.0
    """

    def __init__(self, arrival_s, deadline_s, stages):
        self.arrival_s = np.asarray(arrival_s, dtype=float)
        n = len(self.arrival_s)
        self.deadline_s = np.asarray(deadline_s, dtype=float)
        self.finish_s = np.full(n, np.nan)
        self.status = np.full(n, PENDING, dtype=np.int8)
        self.reason = np.zeros(n, dtype=np.int8)
        self.accuracy = np.full(n, np.nan)
        self.stages = list(stages)
        self.stage_cols = {
            s: {
                "queue_s": np.full(n, np.nan),
                "start_s": np.full(n, np.nan),
                "finish_s": np.full(n, np.nan),
                "replica": np.full(n, -1, dtype=np.int32),
                "batch": np.zeros(n, dtype=np.int16),
            }
            for s in self.stages
        }

    def __len__(self) -> int:
        return len(self.arrival_s)

    def stage_done(self, stage, i, *, queue_s, start_s, finish_s, replica, batch=1):
        """Record request ``i``'s pass through ``stage`` (times in seconds)."""
        cols = self.stage_cols[stage]
        cols["queue_s"][i] = queue_s
        cols["start_s"][i] = start_s
        cols["finish_s"][i] = finish_s
        cols["replica"][i] = replica
        cols["batch"][i] = batch

    def finish(self, i, t_s, accuracy=np.nan):
        """Request ``i`` left the sink at ``t_s``: served if on time, else late."""
        self.finish_s[i] = t_s
        self.status[i] = SERVED if t_s <= self.deadline_s[i] + 1e-12 else LATE
        self.accuracy[i] = accuracy

    def drop(self, i, reason: str, t_s=np.nan):
        """Request ``i`` was dropped for ``reason`` (one of :data:`REASONS`)."""
        self.status[i] = DROPPED
        self.reason[i] = REASONS.index(reason)
        self.finish_s[i] = np.nan
        self._drop_t = t_s

    def truncate(self, n: int) -> None:
        """Keep only the first ``n`` requests (a run stopped before the others arrived)."""
        self.arrival_s = self.arrival_s[:n]
        self.deadline_s = self.deadline_s[:n]
        self.finish_s = self.finish_s[:n]
        self.status = self.status[:n]
        self.reason = self.reason[:n]
        self.accuracy = self.accuracy[:n]
        self.stage_cols = {s: {k: v[:n] for k, v in c.items()} for s, c in self.stage_cols.items()}

    def pending(self) -> np.ndarray:
        """Indices of requests that have no final status yet."""
        return np.flatnonzero(self.status == PENDING)

    def to_result(self, runtime, *, stages=None, timeline=None, events=None, meta=None) -> Result:
        """Freeze into a :class:`Result`; every request must have a final status, and the
        accounting is checked (:meth:`Result.check_accounting`) on every run."""
        left = self.pending()
        if len(left):
            raise RuntimeError(
                f"{len(left)} request(s) have no final status (first: {left[:5].tolist()}); "
                "a runtime must end every request as served, late or dropped"
            )
        res = Result(
            runtime=runtime,
            stages=tuple(stages or self.stages),
            requests={
                "arrival_s": self.arrival_s,
                "deadline_s": self.deadline_s,
                "finish_s": self.finish_s,
                "status": self.status,
                "reason": self.reason,
                "accuracy": self.accuracy,
            },
            stage_records=self.stage_cols,
            timeline=timeline if timeline is not None else pd.DataFrame(),
            events=events if events is not None else pd.DataFrame(),
            meta=dict(meta or {}),
        )
        res.check_accounting()
        return res


@dataclass
class Result:
    """What ``ssloserve.run`` returns, whatever the runtime.

    Attributes
    ----------
    runtime : ``"sim"``, ``"emu"`` or ``"ray"``
    stages : stage names in topological order
    requests : columns ``arrival_s, deadline_s, finish_s, status, reason, accuracy`` (one row a request)
    stage_records : per stage, columns ``queue_s, start_s, finish_s, replica, batch``
    timeline : one row per adaptation interval: at least ``t_s``, ``rate_rps``, ``cores``
        and ``config`` (the :class:`~ssloserve.pipeline.Config` in force)
    events : actuation events: ``t_s, stage, kind, state, detail``
    meta : anything else (core-limit backend, seed, wall time, ``interrupted``)
    """

    runtime: str
    stages: tuple[str, ...]
    requests: dict
    stage_records: dict
    timeline: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.requests["arrival_s"])

    @property
    def latency_ms(self) -> np.ndarray:
        """End-to-end latency (ms) of each request; NaN for dropped ones."""
        return (self.requests["finish_s"] - self.requests["arrival_s"]) * 1000.0

    def counts(self) -> dict:
        """Requests per status."""
        st = self.requests["status"]
        return {name: int((st == code).sum()) for code, name in enumerate(STATUSES)}

    def check_accounting(self) -> dict:
        """Check that every request is accounted for exactly once and consistently; return
        :meth:`counts`. Every runtime's result passes through this (``RequestLog.to_result``).

        arrivals = served + late + dropped; a served request finished by its deadline, a late
        one after it, a dropped one has no finish time and a reason; only dropped ones have a
        reason. Raises RuntimeError (a runtime bug, not a user error) naming the first
        offending request. Works in chunks, so tens of millions of requests cost little memory.

        Examples
        --------
        >>> log = RequestLog(np.array([0.0, 0.1]), np.array([0.5, 0.6]), ["a"])
        >>> log.finish(0, 0.2); log.finish(1, 0.7)
        >>> log.to_result("sim").check_accounting()
        {'served': 1, 'late': 1, 'dropped': 0}
        >>> log.status[1] = SERVED                 # served after its deadline: caught
        >>> log.to_result("sim")
        Traceback (most recent call last):
        ...
        RuntimeError: request 1 is served but finished at 0.7 s, after its deadline 0.6 s
        """
        rq = self.requests
        n = len(self)
        for name in ("deadline_s", "finish_s", "status", "reason"):
            if len(rq[name]) != n:
                raise RuntimeError(f"column {name!r} has {len(rq[name])} rows for {n} requests")
        step = 1 << 20
        for lo in range(0, n, step):
            st = rq["status"][lo : lo + step]
            fin = rq["finish_s"][lo : lo + step]
            dl = rq["deadline_s"][lo : lo + step]
            why = rq["reason"][lo : lo + step]
            drop = st == DROPPED
            on_time = fin <= dl + 1e-12
            bad = {
                "has no final status": (st != SERVED) & (st != LATE) & ~drop,
                "is served but finished {f} s, after its deadline {d} s": (st == SERVED) & ~on_time,
                "is late but finished {f} s, by its deadline {d} s": (st == LATE)
                & ~(fin > dl + 1e-12),
                "is dropped but has a finish time {f} s": drop & ~np.isnan(fin),
                "is dropped with no reason": drop & (why == 0),
                "is not dropped but has reason {r}": ~drop & (why != 0),
            }
            for msg, mask in bad.items():
                if mask.any():
                    i = int(np.flatnonzero(mask)[0])
                    text = msg.format(f=f"at {fin[i]:g}", d=f"{dl[i]:g}", r=f"{int(why[i])}")
                    raise RuntimeError(f"request {lo + i} {text}")
        c = self.counts()
        if sum(c.values()) != n:  # pragma: no cover - implied by the checks above
            raise RuntimeError(f"{n} arrivals but {c}")
        return c

    def requests_df(self) -> pd.DataFrame:
        """The per-request columns as a DataFrame (status and reason as strings)."""
        df = pd.DataFrame({k: v for k, v in self.requests.items()})
        df["status"] = pd.Categorical.from_codes(self.requests["status"], STATUSES)
        df["reason"] = pd.Categorical.from_codes(self.requests["reason"], REASONS)
        df["latency_ms"] = self.latency_ms
        return df

    def core_seconds(self) -> float:
        """Integral of cores in use over the run (``meta["core_seconds"]`` when the runtime
        measured it exactly, else from the timeline)."""
        if "core_seconds" in self.meta:
            return float(self.meta["core_seconds"])
        tl = self.timeline
        if tl is None or len(tl) == 0 or "cores" not in tl:
            return float("nan")
        t = tl["t_s"].to_numpy(dtype=float)
        end = self.meta.get("end_s")
        if end is None:
            fin = self.requests["finish_s"]
            end = float(np.nanmax(fin)) if np.isfinite(fin).any() else t[-1]
            end = max(end, t[-1])
        dt = np.diff(np.append(t, end))
        return float(np.sum(tl["cores"].to_numpy(dtype=float) * np.clip(dt, 0, None)))

    def per_second(self) -> pd.DataFrame:
        """Per second of arrival: requests, served, late, dropped and violation %."""
        sec = np.floor(self.requests["arrival_s"]).astype(np.int64)
        st = self.requests["status"]
        df = pd.DataFrame({"second": sec, "status": st})
        out = df.groupby("second")["status"].agg(
            requests="size",
            served=lambda s: int((s == SERVED).sum()),
            late=lambda s: int((s == LATE).sum()),
            dropped=lambda s: int((s == DROPPED).sum()),
        )
        out["violation_pct"] = 100.0 * (out["late"] + out["dropped"]) / out["requests"]
        return out.reset_index()

    def per_window(self, width_s: int = 10) -> pd.DataFrame:
        """Per window of ``width_s`` seconds: mean arrival rate, mean cores in use, violation %.

        Cores come from the timeline (the config in force at each second's start); windows
        are labelled by their first second; a window with no request has NaN violation %.
        Chapter 00_tour charts it.

        Examples
        --------
        >>> log = RequestLog(np.array([0.5, 1.5, 2.5]), np.array([1.0, 1.6, 2.6]), ["a"])
        >>> log.finish(0, 0.9); log.finish(1, 1.9); log.finish(2, 2.6)
        >>> tl = pd.DataFrame({"t_s": [0.0, 2.0], "cores": [1.0, 3.0]})
        >>> log.to_result("sim", timeline=tl).per_window(2)
           second  rps  cores  violation_pct
        0       0  1.0    1.0           50.0
        1       2  1.0    3.0            0.0
        """
        if width_s < 1:
            raise ValueError(f"width_s must be a whole number of seconds >= 1, got {width_s!r}")
        ps = self.per_second().set_index("second")
        last = int(ps.index.max()) if len(ps) else -1  # seconds with no arrival count as 0 RPS
        ps = ps.reindex(range(last + 1), fill_value=0).rename_axis("second").reset_index()
        tl = self.timeline
        if tl is not None and len(tl) and "cores" in tl:
            at = np.searchsorted(tl["t_s"].to_numpy(float), ps["second"].to_numpy(float), "right")
            ps["cores"] = tl["cores"].to_numpy(float)[np.clip(at - 1, 0, None)]
        else:
            ps["cores"] = np.nan
        ps["missed"] = ps["late"] + ps["dropped"]
        g = ps.groupby(ps["second"] // width_s * width_s)
        out = pd.DataFrame(
            {
                "rps": g["requests"].mean(),
                "cores": g["cores"].mean(),
                "violation_pct": 100.0 * g["missed"].sum() / g["requests"].sum(),
            }
        )
        out.index.name = "second"
        return out.reset_index()

    def summary(self) -> dict:
        """SLO violation %, p50/p95/p99 latency (ms), core-seconds, dropped %, mean accuracy."""
        n = len(self)
        c = self.counts()
        # lean on memory (tens of millions of requests): one latency copy, partitioned in place
        lat = self.requests["finish_s"] - self.requests["arrival_s"]
        done = lat[np.isfinite(lat)]
        del lat
        done *= 1000.0
        p50, p95, p99 = (
            np.percentile(done, [50, 95, 99], overwrite_input=True).tolist()
            if len(done)
            else [float("nan")] * 3
        )
        del done
        acc = self.requests["accuracy"]
        ok = np.isfinite(acc)
        k = int(ok.sum())
        return {
            "requests": n,
            **c,
            "violation_pct": 100.0 * (c["late"] + c["dropped"]) / n if n else 0.0,
            "p50_ms": p50,
            "p95_ms": p95,
            "p99_ms": p99,
            "core_seconds": self.core_seconds(),
            "dropped_pct": 100.0 * c["dropped"] / n if n else 0.0,
            "mean_accuracy": float(np.sum(acc, where=ok)) / k if k else float("nan"),
        }
