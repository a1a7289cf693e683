"""The whole 8 x N study on one machine: wall time, orchestration efficiency, and what packing trials buys.

For each --gpus-per-trial value (on a GPU: 1, 0.5, 0.25) it runs the study through the real runner
(ablation/run.py on a local Ray instance) and prints wall seconds, the sum of trial training seconds, the
concurrent trial slots and the orchestration efficiency = sum of trial seconds / (wall x slots). With
--original it also times ONE trial of the re-created original loop and prints 8 x N times it: the sequential
one-script-per-model baseline (an extrapolation from that measured trial, labelled as such).

    python benchmarks/study_speed.py                                   # CPU: the quick profile
    python benchmarks/study_speed.py --profile paper --gpus 1 0.5 0.25 --original   # one GPU
"""
from __future__ import annotations

from pathlib import Path

import argparse
import json
import tempfile
import time

import pandas as pd
import torch
import yaml

from ablation.run import main as run_study
from original_loop import original_trial
from trial_speed import device_peak, make_split_folder, training_flops
from search_spaces.profiles import get_profile
from trainables.data import load_data


def one_study(args: argparse.Namespace, gpus: float, storage: Path, data: Path | None) -> dict:
    name = f"bench-gpus{gpus:g}"
    argv = ["--profile", args.profile, "--storage", str(storage), "--name", name, "--wandb", "disabled",
            "--no-report", "--gpus-per-trial", str(gpus), "--cpus-per-trial", str(args.cpus_per_trial)]
    argv += ["--seeds", str(args.seeds)] if args.seeds else []
    argv += ["--epochs", str(args.epochs)] if args.epochs else []
    argv += ["--data", str(data)] if data else []
    began = time.perf_counter()
    code = run_study(argv)
    wall = time.perf_counter() - began
    trials = pd.read_csv(storage / name / "results" / "trials.csv")
    timing = json.loads((storage / name / "results" / "timing.json").read_text())
    flops = study_flops(trials, yaml.safe_load((storage / name / "spec.yaml").read_text())["profile"], data)
    return {"gpus_per_trial": gpus, "exit": code, "trials": len(trials), "completed": int(
        (trials.status == "completed").sum()), "wall_s": wall, "trial_s": timing["trial_seconds"],
            "slots": timing["concurrent_slots"], "efficiency": timing["orchestration_efficiency"],
            "tflops": flops / timing["wall_seconds"] / 1e12}


def study_flops(trials: pd.DataFrame, profile: dict, data: Path | None) -> float:
    """FLOPs the study's trials computed: per configuration, counted on one step (torch.utils.flop_counter),
    times the images trained and evaluated in the epochs each trial completed."""
    images = load_data(data, size=profile["image_size"], split_seed=profile["split_seed"],
                       val_fraction=profile["val_fraction"])
    total = 0.0
    for (shortcut, se, activation), cell in trials.groupby(["shortcut", "se", "activation"]):
        train, evaluate = training_flops(profile["image_size"], profile["width"], 4, "cpu",
                                         num_classes=images.num_classes, depth=profile["depth"],
                                         stem=profile["stem"], shortcut=bool(shortcut), se=bool(se),
                                         activation=activation)
        epochs = cell.epochs_done.fillna(0).sum()
        total += epochs * (len(images.train_labels) * train + len(images.val_labels) * evaluate)
    return total

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="quick")
    p.add_argument("--seeds", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--gpus", type=float, nargs="+", default=[0.0], help="--gpus-per-trial values to compare")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--original", action="store_true", help="also time one trial of the original loop")
    return p.parse_args(argv)


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    profile = get_profile(args.profile)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        data = None
        if args.profile == "paper":  # the original study's shape: 887/221 JPEGs, 5 classes
            data = Path(scratch) / "images"
            make_split_folder(data, 887, 221)
        for gpus in args.gpus:
            rows.append(one_study(args, gpus, Path(scratch) / "runs", data))
        table = pd.DataFrame(rows)
        for row in rows:
            peak = device_peak("cuda") if row["gpus_per_trial"] > 0 else None
            share = f", {row['tflops'] / peak:.1%} of the GPU's bf16 peak" if peak else ""
            print(f"study, --gpus-per-trial {row['gpus_per_trial']:g}: {row['completed']}/{row['trials']} trials "
                  f"completed, wall {row['wall_s']:.1f} s, trial seconds {row['trial_s']:.1f}, {row['slots']} "
                  f"slots, orchestration efficiency {row['efficiency']:.2f} (target >= 0.8); "
                  f"{row['tflops']:.3f} TFLOP/s over the study's wall (FLOPs counted){share}")
        if args.original and data is not None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
            single = original_trial(data / "train", data / "val", size=profile.image_size, width=profile.width,
                                    epochs=args.epochs or profile.epochs, device=device)
            trials = rows[0]["trials"]
            print(f"original loop: one trial measured {single['seconds']:.1f} s; x {trials} trials run one "
                  f"after another = {single['seconds'] * trials:.0f} s (extrapolated) vs our best study wall "
                  f"{table.wall_s.min():.0f} s: {single['seconds'] * trials / table.wall_s.min():.1f}x")
    return rows


if __name__ == "__main__":
    main()
