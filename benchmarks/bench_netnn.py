"""NetNN benchmarks: accuracy (float, int8; flow and packet level), switch layouts and
resources, executor packets per second (packet-by-packet and batched, same run), recall on
held-out attack families.

Run from the repository root (full setting; add SSLOSERVE_QUICK=1 for a fast check):

    SSLOSERVE_DATA=/work/shared/data .venv/bin/python benchmarks/bench_netnn.py

Prints markdown tables (recorded in benchmarks/netnn.md). Speeds are measured on this shared,
noisy machine; compare them within one run (the ratio column), not across runs.

With ``--bmv2`` it runs the real-switch section instead (needs p4c and BMv2 on PATH): compile
time and JSON size of every switch's program (the paper's 18-switch layout and every data
set's detector), and BMv2's packets per second beside the reference executor's on the same
programs and samples:

    SSLOSERVE_DATA=/work/shared/data .venv/bin/python benchmarks/bench_netnn.py --bmv2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ssloserve.netnn import evaluate, experiment, mapper, models, p4, switch
from ssloserve.netnn.batched import execute_batched
from ssloserve.netnn.executor import configure, execute
from ssloserve.netnn.p4_loop import loop_finishes
from ssloserve.netnn.quantize import random_integer_model


def md(df: pd.DataFrame) -> str:
    return df.convert_dtypes().to_markdown(index=False, floatfmt=".3f")


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    s = experiment.settings()
    print(f"settings: {s} (quick={experiment.quick()})\n")

    # 1. accuracy per data set
    t0 = time.perf_counter()
    dets = [experiment.flow_detector(n, seed=0) for n in ("CIC-IDS2017", "NSL-KDD", "UNSW-NB15")]
    dets.append(experiment.packet_detector(seed=0))
    acc = experiment.accuracy_table(dets)
    acc["int8 - float (points)"] = 100 * (acc["int8"] - acc["float"])
    acc["8-bit wrap-around sums"] = [
        models.accuracy(d.qmodel.predict(d.x_test, accumulator_bits=8), d.y_test) for d in dets
    ]
    print("## Accuracy: float and 8-bit integer (held-out test sets)\n")
    print(md(acc))
    print(f"\n(training and quantising all four: {time.perf_counter() - t0:.1f} s)\n")

    # 2. data-plane parity and speed on every test sample
    specs = {
        "BMv2": switch.BMV2,
        "Tofino-like": switch.TOFINO,
        "BMv2, 160-byte header": switch.BMV2.with_(header_bytes=160),
    }
    rows = []
    for d in dets:
        t = time.perf_counter()
        ref = d.qmodel.forward(d.x_test)
        t_model = time.perf_counter() - t
        for sname, spec in specs.items():
            try:
                r = experiment.dataplane_run(d, spec, seed=1, executor="packet")
                b = experiment.dataplane_run(d, spec, seed=1, executor="batched")
            except Exception as e:  # MappingError: record which resource binds
                rows.append(
                    {
                        "data set": d.name,
                        "switches": sname,
                        "layout": f"does not fit: {e.resource} ({e.layer})",
                    }
                )
                continue
            rows.append(
                {
                    "data set": d.name,
                    "switches": sname,
                    "layout": r["layout"],
                    "equal to int8 model (packet, batched)": (
                        r["equal to int8 model"] and b["equal to int8 model"]
                    ),
                    "samples": r["samples"],
                    "data-plane acc": r["data-plane accuracy"],
                    "data-plane flow acc": r["data-plane flow accuracy"],
                    "packets": r["packets"],
                    "packet executor packets/s": r["packets/s"],
                    "batched executor packets/s": b["packets/s"],
                    "batched / packet": b["packets/s"] / r["packets/s"],
                    "batched samples/s": r["samples"] * b["packets/s"] / b["packets"],
                    "int8 model samples/s (torch)": len(ref) / t_model,
                }
            )
    print("## Data plane: parity with the integer model and executor speed\n")
    print("Every test sample, packets delivered in shuffled order, through both executors in the")
    print("same run: the packet-by-packet reference (`executor.py`) and the batched one")
    print("(`batched.py`). `packets/s` counts frames the switches processed per second (one core);")
    print(
        "the integer model runs in torch. NetNN's prototype: about 5,800 packets/s per BMv2 switch.\n"
    )
    print(md(pd.DataFrame(rows)))

    # 3. layouts and per-switch resources of each model
    paper = models.paper_architecture()
    layouts = []
    cases = [
        ("NetNN (paper) model", paper, switch.BMV2, "uniform"),
        ("NetNN (paper) model", paper, switch.BMV2, "free"),
        ("NetNN (paper) model", paper, switch.TOFINO, "uniform"),
    ]
    for d in dets:
        for sname in ("BMv2", "Tofino-like"):
            cases.append((f"{d.name} model", d.qmodel, specs[sname], "uniform"))
    for name, m, spec, widths in cases:
        try:
            plan = mapper.partition(m, spec, widths=widths)
        except Exception as e:
            layouts.append(
                {
                    "model": name,
                    "switch": spec.name,
                    "widths": widths,
                    "layout": f"does not fit: {e.resource} in {e.layer}",
                }
            )
            continue
        for shape, parts in zip(plan.shapes, plan.layers, strict=True):
            u = parts[0].usage
            layouts.append(
                {
                    "model": name,
                    "switch": spec.name,
                    "widths": widths,
                    "layout": plan.layout,
                    "switches": plan.n_switches,
                    "layer": shape.name,
                    "per layer": len(parts),
                    "header in B": u["header in"],
                    "header out B": u["header out"],
                    "ops/action": u["operations per action"],
                    "MACs/packet": u["MACs per packet"],
                    "stages": u["stages"],
                    "register B": u["register bytes"],
                    "binding": plan.binding()[shape.name],
                }
            )
    print("\n## Switches, header bytes and operations per switch (largest switch of each layer)\n")
    print(md(pd.DataFrame(layouts)))

    # 4. the paper-scale model with random weights: executor speed and parity
    m = random_integer_model([0, 52, 100, 1], conv=((32, 5, 5), (64, 5, 5)), length=816, seed=0)
    plan = mapper.partition(m, switch.BMV2)
    x = np.random.default_rng(0).integers(0, 256, (64, 816)).astype(np.uint8)
    ref = m.forward(x)
    rows = []
    for name, run in (("packet", execute), ("batched", execute_batched)):
        r = run(plan, m, x, order="shuffle", seed=0)
        rows.append(
            {
                "executor": name,
                "layout": plan.layout,
                "samples": len(x),
                "equal to int8 model": bool(np.array_equal(r.logits, ref)),
                "packets": r.packets,
                "packets/s": r.packets_per_second,
                "samples/s": len(x) / r.seconds,
            }
        )
    print("\n## NetNN's published architecture (random int8 weights), 18 switches\n")
    print(md(pd.DataFrame(rows)))

    # 5. emitted P4 sizes for the packet model
    pdet = dets[-1]
    for sname in ("BMv2", "BMv2, 160-byte header"):
        pplan = mapper.partition(pdet.qmodel, specs[sname])
        t = time.perf_counter()
        bundle = p4.emit(pplan, pdet.qmodel)
        dt = time.perf_counter() - t
        sizes = bundle.sizes()
        cmds = {k: v.count("\n") for k, v in bundle.commands.items()}
        print(
            f"\n## Emitted P4 for the packet model on {sname}: {pplan.layout}, emitted in {dt:.2f} s\n"
        )
        print(
            md(
                pd.DataFrame(
                    {
                        "switch": list(sizes),
                        "program kB": [v / 1000 for v in sizes.values()],
                        "CLI commands": [cmds[k] for k in sizes],
                    }
                )
            )
        )

    # 6. held-out attack families
    families_section()


def families_section() -> None:
    """Recall on attack families held out of training, next to the random split."""
    seeds = (0, 1, 2)
    t0 = time.perf_counter()
    table = evaluate.holdout_report(seeds=seeds)
    dt = time.perf_counter() - t0
    print("\n## Held-out attack families: recall when a family is not in the training data\n")
    print("Per held-out family, mean over seeds", seeds, "(switch min/max: its range).")
    print("`random split`: the same family's recall when it is in training (the chapter's split);")
    print("`float`/`int8`/`switch`: its recall when held out; `other attacks`: recall on the")
    print("families that were in training; `false alarms`: benign rows flagged.")
    print(
        f"({dt:.0f} s for {len(table)} held-out trainings plus {len(seeds)} random splits per data set)\n"
    )
    print(md(evaluate.summarize(table)))
    print("\nPer seed:\n")
    print(md(table))


def sizes_section() -> None:
    """P4 program size per switch of the paper layout, unrolled and as emitted (no tools)."""
    paper = random_integer_model([0, 52, 100, 1], conv=((32, 5, 5), (64, 5, 5)), length=816, seed=0)
    plan = mapper.partition(paper, switch.BMV2)
    t0 = time.perf_counter()
    emitted = p4.emit(plan, paper)
    t1 = time.perf_counter()
    unrolled = p4.emit(plan, paper, unroll_macs=10**12)
    t2 = time.perf_counter()
    rows = []
    for c in configure(plan, paper):
        rows.append(
            {
                "switch": c.name,
                "layer": plan.shapes[c.layer].name,
                "MACs/packet": p4.macs_per_packet(c),
                "form": "looped" if p4.looped(c) else "unrolled",
                "passes per packet": (c.hi - c.lo) if p4.looped(c) else 1,
                "finish passes": (c.hi - c.lo) if p4.looped(c) and loop_finishes(c) else 0,
                "P4 kB as emitted": len(emitted.programs[c.name].encode()) / 1000,
                "P4 kB unrolled": len(unrolled.programs[c.name].encode()) / 1000,
                "CLI commands": emitted.commands[c.name].count("\n"),
            }
        )
    df = pd.DataFrame(rows)
    print(f"\n## P4 program size, paper layout {plan.layout} (random int8 weights)\n")
    print(
        f"Looped above {p4.UNROLL_MACS} multiply-accumulates per packet. Emitted in "
        f"{t1 - t0:.1f} s as emitted, {t2 - t1:.1f} s all unrolled; total "
        f"{df['P4 kB as emitted'].sum() / 1000:.1f} MB vs {df['P4 kB unrolled'].sum() / 1000:.1f} MB.\n"
    )
    print(md(df))


def bmv2_section(
    n_samples: int = 400, paper_samples: int = 16, compile_timeout_s: float = 1800.0
) -> None:
    """Compile time and JSON size per switch; BMv2 and executor packets/s side by side."""
    from ssloserve.netnn.bmv2 import run_bmv2
    from ssloserve.netnn.p4c import compile_program, require_tools, tool_versions

    tools = require_tools()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"tools: {tools}\n")
    for tool, version in tool_versions().items():
        print(f"{tool} --version: {version}")
    dets = [experiment.flow_detector(n, seed=0) for n in ("CIC-IDS2017", "NSL-KDD", "UNSW-NB15")]
    dets.append(experiment.packet_detector(seed=0))
    paper = random_integer_model([0, 52, 100, 1], conv=((32, 5, 5), (64, 5, 5)), length=816, seed=0)
    paper_plan = mapper.partition(paper, switch.BMV2)
    work = Path(tempfile.mkdtemp(prefix="bench-bmv2-"))
    print(f"\nwork folder: {work}\n")

    # 1. BMv2 against the executor on the same programs and samples, whole chain
    speed, compiled = [], []
    for d in dets:
        plan = mapper.partition(d.qmodel, switch.BMV2)
        x = d.x_test[:n_samples]
        r = run_bmv2(plan, d.qmodel, x, work / d.name.replace(" ", "_"))
        speed.append(_speed_row(d.name, plan, x, d.qmodel, r))
        compiled.append(_compile_rows(d.name + " detector", plan, d.qmodel, r.switches))
    # the paper layout: every program compiled; one switch of each layer run, fed the
    # integer model's frames (a full chain of 18 would take the two cores for an hour)
    names = [layer[0].name for layer in paper_plan.layers]
    x = np.random.default_rng(0).integers(0, 256, (paper_samples, 816)).astype(np.uint8)
    r = run_bmv2(paper_plan, paper, x, work / "paper", switches=names)
    speed.append(_speed_row("paper layout (one switch per layer)", paper_plan, x, paper, r))
    sw_paper = r.switches
    t0 = time.perf_counter()
    rest = [p.name for layer in paper_plan.layers for p in layer if p.name not in names]
    bundle = p4.emit(paper_plan, paper)
    bundle.write(work / "paper_rest" / "src")
    extra = []
    for sw in rest:
        c = compile_program(
            work / "paper_rest" / "src" / f"{sw}.p4",
            work / "paper_rest" / "build",
            tools["p4c"],
            timeout_s=compile_timeout_s,
        )
        extra.append(
            {
                "switch": sw,
                "compile s": c.seconds,
                "JSON bytes": c.json_bytes,
                "p4c warnings": len(c.warnings),
                "commands": bundle.commands[sw].count("\n"),
            }
        )
    print(f"(compiled the other {len(rest)} paper switches in {time.perf_counter() - t0:.0f} s)")
    both = pd.concat([sw_paper, pd.DataFrame(extra)], ignore_index=True)
    compiled.insert(
        0, _compile_rows("NetNN paper layout (random int8 weights)", paper_plan, paper, both)
    )
    print("\n## p4c: compile time and BMv2 JSON size per switch\n")
    print(
        "`form`: unrolled (one pass per packet) or looped (one output channel per pass, the\n"
        f"packet recirculated), chosen above {p4.UNROLL_MACS} multiply-accumulates per packet.\n"
    )
    print(md(pd.concat(compiled, ignore_index=True)))
    print("\n## BMv2 and the reference executors, same programs, same samples\n")
    print(
        "`BMv2 packets/s`: frames into switches over the summed busy time of the switches run\n"
        "(first to last output frame of each; the switches of a layer run side by side).\n"
        "`three-way equal`: BMv2, the packet executor and the integer model agree on every byte\n"
        "of every frame and every score.\n"
    )
    print(md(pd.DataFrame(speed)))
    print("\nPer switch, paper layout:\n")
    print(md(sw_paper))


def _compile_rows(model_name, plan, model, sw: pd.DataFrame) -> pd.DataFrame:
    bundle = p4.emit(plan, model)
    cfgs = {c.name: c for c in configure(plan, model)}
    rows = []
    for r in sw.to_dict("records"):
        src = bundle.programs[r["switch"]]
        rows.append(
            {
                "model": model_name,
                "switch": r["switch"],
                "form": "looped" if "recirculate" in src else "unrolled",
                "MACs/packet": p4.macs_per_packet(cfgs[r["switch"]]),
                "P4 kB": len(src.encode()) / 1000,
                "compile s": r["compile s"],
                "JSON MB": r["JSON bytes"] / 1e6,
                "p4c warnings": r["p4c warnings"],
                "CLI commands": r["commands"],
            }
        )
    return pd.DataFrame(rows)


def _speed_row(name, plan, x, model, r) -> dict:
    ex = execute(plan, model, x)
    bx = execute_batched(plan, model, x)
    sw = r.switches
    busy = (sw["frames in"] / sw["packets/s"]).sum()
    bmv2 = sw["frames in"].sum() / busy
    return {
        "data set": name,
        "layout": plan.layout,
        "samples": len(x),
        "three-way equal": r.equal,
        "BMv2 frames": int(sw["frames in"].sum()),
        "BMv2 packets/s": bmv2,
        "slowest switch packets/s": sw["packets/s"].min(),
        "executor packets/s": ex.packets_per_second,
        "batched packets/s": bx.packets_per_second,
        "executor / BMv2": ex.packets_per_second / bmv2,
        "batched / BMv2": bx.packets_per_second / bmv2,
        "batched equal": bool(np.array_equal(bx.logits, r.model)),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("section", nargs="?", choices=["families", "sizes"], help="only this section")
    ap.add_argument("--bmv2", action="store_true", help="run the real-switch section")
    ap.add_argument("--samples", type=int, default=400, help="samples per data set on BMv2")
    ap.add_argument("--paper-samples", type=int, default=16, help="samples on the paper layout")
    a = ap.parse_args()
    if a.bmv2:
        bmv2_section(a.samples, a.paper_samples)
    elif a.section == "sizes":  # P4 program sizes, no tools needed
        sizes_section()
    elif a.section == "families":  # only the held-out family section
        torch.set_num_threads(1)
        families_section()
    else:
        main()
