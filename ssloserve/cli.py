"""The ``ssloserve`` command: ``ssloserve run ...`` runs one experiment and prints its summary.

Every flag has a default: ``ssloserve run`` simulates the video pipeline (YOLOv5n then
ResNet18, SLO 780 ms, Biscale's setting) on the bursty load pattern under the
InferLine-like planner; ``ssloserve run --runtime emu`` runs the same for 10 s on real
processes (well under 20 s). The trace is the real Twitter segment when the data is
present, else its seeded synthetic twin (the output says which).

``ssloserve profile`` measures a model's latency over a batch x cores grid on this machine
under the emulator's enforced core limits and prints the table and the fitted l(b, c)
(:func:`ssloserve.runtime.emu.profile.profile_model`).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .errors import SsloserveError
from .runtime.options import RUNTIMES

__all__ = ["main", "build_parser", "pipeline_by_name", "trace_by_name", "summary_table"]

PIPELINES = ("video", "single")
TRACES = ("bursty", "steady_low", "steady_high", "fluctuating", "step")
POLICIES = ("inferline", "hpa", "static")
#: Seconds of trace ``--runtime emu`` serves when ``--duration`` is not given.
EMU_DEFAULT_DURATION_S = 10.0


def pipeline_by_name(name: str, detector: str = "yolov5n", classifier: str = "resnet18"):
    """A bundled pipeline: ``"video"`` (detect then classify) or ``"single"`` (classify).

    Examples
    --------
    >>> pipeline_by_name("video").order
    ('detect', 'classify')
    """
    from .catalog import video_variants
    from .pipeline import Pipeline, Stage

    det, cls = video_variants()
    pick = {v.name: v for v in det + cls}
    for v in (detector, classifier):
        if v not in pick:
            raise SsloserveError(f"no variant {v!r}; the menu is {sorted(pick)}")
    if name == "video":
        return Pipeline.chain(
            Stage("detect", (pick[detector],)), Stage("classify", (pick[classifier],))
        )
    if name == "single":
        return Pipeline.chain(Stage("classify", (pick[classifier],)))
    raise SsloserveError(f"unknown pipeline {name!r}; choose one of {PIPELINES}")


def trace_by_name(name: str, seed: int = 0, damping: int = 8):
    """Per-second rates and a label: a named load pattern, ``"step"``, or a counts file.

    Examples
    --------
    >>> rates, label = trace_by_name("step")
    >>> len(rates), label
    (600, 'step 5 -> 30 RPS (synthetic)')
    """
    from pathlib import Path

    from .traces import read_counts, segment
    from .workloads import step_load

    if not (isinstance(damping, int) and damping >= 1):
        raise SsloserveError(f"--damping must be an integer >= 1, got {damping!r}")
    if name == "step":
        return step_load((5, 30), step_s=300), "step 5 -> 30 RPS (synthetic)"
    if name in TRACES:
        s = segment(name, seed=seed, damping=damping)
        return np.asarray(s.rates), f"{name} ({s.source})"
    if not Path(name).is_file():
        raise SsloserveError(
            f"unknown trace {name!r}: not one of {TRACES} and no such file of per-second counts"
        )
    counts = read_counts(name)
    return np.floor(np.asarray(counts) / damping).astype(np.int64), f"{name} / {damping}"


def summary_table(summary: dict, extra: dict | None = None) -> str:
    """The summary as an aligned two-column text table.

    Examples
    --------
    >>> print(summary_table({"violation_pct": 1.23456, "requests": 10}))
    violation_pct   1.235
    requests           10
    """
    rows = {**summary, **(extra or {})}

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        return str(v)

    w = max(len(k) for k in rows)
    vals = {k: fmt(v) for k, v in rows.items()}
    wv = max(len(v) for v in vals.values())
    return "\n".join(f"{k:<{w}}  {v:>{wv}}" for k, v in vals.items())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ssloserve", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run",
        help="run one experiment and print its summary",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    r.add_argument("--pipeline", default="video", choices=PIPELINES)
    r.add_argument("--detector", default="yolov5n", help="detector variant (video pipeline)")
    r.add_argument("--classifier", default="resnet18", help="classifier variant")
    r.add_argument(
        "--trace",
        default="bursty",
        help=f"one of {TRACES} or a file of per-second counts (divided by --damping)",
    )
    r.add_argument("--damping", type=int, default=8, help="damping factor of a real trace")
    r.add_argument("--rate-scale", type=float, default=1.0, help="multiply every rate")
    r.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"seconds of trace to serve (default: all in sim, {EMU_DEFAULT_DURATION_S:g} in emu/ray)",
    )
    r.add_argument("--slo-ms", type=float, default=780.0, help="end-to-end SLO of each request")
    r.add_argument("--policy", default="inferline", choices=POLICIES)
    r.add_argument("--runtime", default="sim", choices=RUNTIMES)
    r.add_argument("--queue", default="fifo", choices=("fifo", "edf"))
    r.add_argument(
        "--drop", default="never", choices=("never", "deadline", "cannot_finish", "k_slo")
    )
    r.add_argument("--batch", type=int, default=1, help="batch size of every stage")
    r.add_argument("--cores", type=float, default=1.0, help="cores per replica")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--service",
        default="deterministic",
        choices=("deterministic", "exponential", "lognormal"),
        help="simulator service times",
    )
    r.add_argument("--cold-start-s", type=float, default=None, help="default: RunOptions'")
    r.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    pr = sub.add_parser(
        "profile",
        help="measure a model over batch x cores and fit l(b, c)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    pr.add_argument("--model", default="resnet_tiny18", help="a torch variant of the emulator")
    pr.add_argument("--batches", default="1,2,4", help="comma-separated batch sizes")
    pr.add_argument(
        "--cores", default=None, help="comma-separated core counts (default: 1 and this machine's)"
    )
    pr.add_argument("--repeats", type=int, default=3, help="timed runs per point")
    pr.add_argument("--core-limit", default="auto", help="core-limit backend of the emulator")
    return p


def _run(args) -> int:
    from .pipeline import Config, StageConfig
    from .policies import baseline
    from .runtime import RunOptions, run
    from .workloads import Workload

    duration = args.duration
    if duration is None and args.runtime != "sim":  # real time
        duration = EMU_DEFAULT_DURATION_S
    if duration is not None and not duration > 0:  # also NaN
        raise SsloserveError(f"--duration must be a positive number of seconds, got {duration!r}")
    if args.seed < 0:
        raise SsloserveError(f"--seed must be >= 0, got {args.seed}")
    if not args.slo_ms > 0:
        raise SsloserveError(f"--slo-ms must be positive, got {args.slo_ms!r}")
    pipeline = pipeline_by_name(args.pipeline, args.detector, args.classifier)
    rates, label = trace_by_name(args.trace, seed=args.seed, damping=args.damping)
    if args.rate_scale != 1.0:
        rates = np.asarray(rates, dtype=float) * args.rate_scale
    if duration is not None:
        rates = np.asarray(rates)[: int(np.ceil(duration))]
    workload = Workload.from_rates(rates, seed=args.seed, slo_ms=args.slo_ms, name=label)
    base = Config(
        {
            n: StageConfig(pipeline.stage(n).variants[0].name, 1, args.cores, args.batch)
            for n in pipeline.order
        }
    )
    policy = baseline(args.policy, pipeline, args.slo_ms, rates, config=base)
    opts = dict(
        seed=args.seed,
        queue=args.queue,
        drop=args.drop,
        service=args.service,
        slo_ms=args.slo_ms,
        progress=False if args.no_progress else None,
    )
    if args.cold_start_s is not None:
        opts["cold_start_s"] = args.cold_start_s
    print(
        f"{args.runtime}: {args.pipeline} pipeline {pipeline.order}, trace {label}, "
        f"{len(rates)} s, {len(workload)} requests, policy {policy!r}, SLO {args.slo_ms:g} ms",
        flush=True,
    )
    t0 = time.perf_counter()
    result = run(pipeline, workload, policy, runtime=args.runtime, options=RunOptions(**opts))
    extra = {"wall_s": time.perf_counter() - t0}
    if result.meta.get("interrupted"):
        extra["interrupted_at_s"] = result.meta.get("interrupted_at_s", float("nan"))
    print(summary_table(result.summary(), extra))
    return 0


def _numbers(text: str, kind=float) -> list:
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SsloserveError(f"expected comma-separated numbers, got {text!r}") from None


def _profile(args) -> int:
    from .runtime.emu.limits import machine_cores
    from .runtime.emu.profile import profile_model

    batches = _numbers(args.batches, int)
    m = machine_cores()
    cores = _numbers(args.cores) if args.cores else sorted({1.0, float(m)} | {0.5})
    print(f"profiling {args.model}: batches {batches} x cores {cores}", flush=True)
    res = profile_model(
        args.model, batches, cores, repeats=args.repeats, core_limit=args.core_limit
    )
    print(res.table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    fit = res.latency
    print(
        summary_table(
            {
                "gamma": fit.gamma,
                "delta": fit.delta,
                "epsilon": fit.epsilon,
                "eta": fit.eta,
                "mape_pct": fit.mape,
                "cold_start_s": res.cold_start_s,
            },
            {"core_limit": res.backend},
        )
    )
    return 0


def main(argv=None) -> int:
    """Entry point of the ``ssloserve`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "profile":
            return _profile(args)
    except SsloserveError as e:
        print(f"ssloserve: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover - the runtimes return partial results
        return 130
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
