"""Train IPA's LSTM load predictor on days 1-14 of the Twitter trace and ship its weights.

    SSLOSERVE_DATA=../shared/data nice python benchmarks/train_lstm.py

writes ``data/lstm_predictor.pt`` (about 20 KB). Settings (PAPERS.md 0.3): input the last
120 s as 12 maxima of 10-s windows, target the max of the next 20 s, LSTM 25 units + 1 dense,
zeros removed, each window divided by its own mean. Training windows are taken every
``--stride`` seconds (default 5: about 237,000 of the 1.18 million overlapping windows) so
that training takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import time

from ssloserve.data import project_data_path
from ssloserve.predictors import WEIGHTS, evaluate, train_lstm, twitter_split


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stride", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(project_data_path(WEIGHTS)))
    args = ap.parse_args(argv)

    train, test = twitter_split()
    t0 = time.perf_counter()
    p = train_lstm(
        train,
        stride=args.stride,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        progress=True,
    )
    p.meta["train_seconds"] = round(time.perf_counter() - t0, 1)
    p.meta["trained_on"] = "twitter days 1-14, zeros removed"
    p.meta["command"] = (
        "python benchmarks/train_lstm.py "
        f"--stride {args.stride} --epochs {args.epochs} --batch-size {args.batch_size} "
        f"--lr {args.lr} --seed {args.seed}"
    )
    p.save(args.out)
    ev = evaluate(p, test, stride=10)
    print(f"saved {args.out}; {p.meta}")
    print(
        f"test days 15-21 (every 10th s): MAE {ev['mae']:.2f} RPS, under-predicts {ev['under_rate']:.1%}"
    )


if __name__ == "__main__":
    main()
