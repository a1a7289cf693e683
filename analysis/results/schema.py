"""The result tables' contract: the one definition of every column of results/trials.csv and results/epochs.csv.

The study writes the tables with these columns (ablation/export.py imports this module) and the analysis reads them
(analysis/results/load.py). The factors are NAMED, not found by position: spec.yaml's `factors:` mapping (name -> levels,
baseline first) is the authority; a table without a spec beside it falls back to the columns between `model` and
`seed`, the order the writer always uses.

trials.csv, one row per trial:
    trial_id, config, model, <one column per factor>, seed          identity (IDENTITY + factors + seed)
    status ... train_seconds                                         TRIAL_SUMMARY
    node_id, hostname, pid, ended_at                                 PLACEMENT (of the last epoch)
    lr, weight_decay, ... epochs                                     RECIPE (those that are not factors)
epochs.csv, one row per trial and epoch: the identity, EPOCH_METRICS, PLACEMENT.

waves.csv, one row per look and model term, written by a study run until its effects are settled
(analysis/stats/sequential.py): WAVES_COLUMNS. look counts from 1; n_seeds is the seeds per cell the look used (seeds
0..n_seeds-1); n_looks, max_seeds, alpha_look (the family-wise 0.05 / n_looks) and min_effect state the rule;
estimate, se, ci_low, ci_high (at 1 - alpha_look), p_value, p_holm are the look's fit; status is resolved,
negligible or unsettled, settled_at_look the look that settled it (0: not yet); seeds_needed (unsettled terms)
is the seeds per cell at which one look at alpha_look settles a term of any true size with 80% power (noise at
its 80% upper bound); decision (continue, settled, budget) and reason repeat on every row of the look.
timing.json: the driver's last invocation (wall_seconds, trial_seconds, concurrent_slots, trials_run,
orchestration_efficiency).

Accuracies are fractions in [0, 1]; epochs count from 1; `status` is `completed` for a trial that ran all its
epochs and `failed` otherwise; `params` is the model's parameter count; `train_seconds` the sum of its epochs'
seconds. The cost columns (trainables/cost.py): `flops_per_image` the training FLOPs (forward + backward) per image
counted by torch's FlopCounterMode, `seconds_per_epoch` the mean of its epochs' seconds (wall clock, noisy when
trials share a machine), `peak_memory_mb` the peak memory in MiB (the process's peak RSS on a CPU, the CUDA
allocator's peak on a GPU). Readers ignore columns they do not know.

RESPONSES: every per-trial quantity the analysis can take as its response, one entry each: the trials.csv column it
is read from, or a derivation from other columns (`response_values`), its unit, label and direction.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

IDENTITY = ("trial_id", "config", "model")
SEED = "seed"
TRIAL_SUMMARY = ("status", "epochs_done", "final_train_acc", "final_val_acc", "best_val_acc", "best_epoch",
                 "final_train_loss", "final_val_loss", "params", "train_seconds", "flops_per_image",
                 "seconds_per_epoch", "peak_memory_mb")
EPOCH_METRICS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
PLACEMENT = ("node_id", "hostname", "pid", "ended_at")  # where and when (unix seconds) an epoch ended
RECIPE = ("lr", "weight_decay", "label_smoothing", "batch_size", "width", "depth", "epochs")

COMPLETED = "completed"
FAILED = "failed"
METRICS = ("final_val_acc", "best_val_acc")  # the validation accuracies every report tabulates per configuration
HEADLINE_METRICS = ("final_val_acc", "best_val_acc", "final_train_acc", "final_gap")  # --metric: in accuracy units
ACCURACY_COLUMNS = ("final_train_acc", "final_val_acc", "best_val_acc")



@dataclass(frozen=True)
class Response:
    source: str | Callable[[Any], Any]  # a trials.csv column, or a function of the trials frame giving a column
    unit: str
    label: str
    higher_is_better: bool


RESPONSES = {
    "final_val_acc": Response("final_val_acc", "fraction", "final validation accuracy", True),
    "best_val_acc": Response("best_val_acc", "fraction", "best validation accuracy", True),
    "final_train_acc": Response("final_train_acc", "fraction", "final training accuracy", True),
    "final_gap": Response(lambda t: t["final_train_acc"] - t["final_val_acc"], "fraction",
                          "generalisation gap (train - val accuracy)", False),
    "final_val_loss": Response("final_val_loss", "nats", "final validation loss", False),
    "params": Response("params", "parameters", "parameter count", False),
    "flops_per_image": Response("flops_per_image", "FLOPs", "training FLOPs per image", False),
    "seconds_per_epoch": Response("seconds_per_epoch", "s", "training seconds per epoch", False),
    "val_jumpiness": Response("val_jumpiness", "fraction", "validation-curve jumpiness (mean |change| per epoch, "
                              "second half)", False),
    "peak_memory_mb": Response("peak_memory_mb", "MiB", "peak memory", False),
}
COST_RESPONSES = ("params", "flops_per_image", "seconds_per_epoch", "peak_memory_mb")
DETERMINISTIC_COSTS = ("params", "flops_per_image")  # the same in every seed of a configuration: no interval


def response_values(trials, name: str):
    """The response `name` of every row of `trials` (a column, or derived from columns at load time)."""
    source = RESPONSES[name].source
    return trials[source] if isinstance(source, str) else source(trials)


# What a reader needs; the rest of the columns above are written and may be absent in hand-made tables.
REQUIRED_TRIAL_COLUMNS = ("trial_id", "config", "model", SEED, "status", "final_train_acc", "final_val_acc",
                          "best_val_acc", "best_epoch")
REQUIRED_EPOCH_COLUMNS = ("trial_id", "config", "model", SEED, "epoch", "train_acc", "val_acc")

TRIALS_FILE = "results/trials.csv"
EPOCHS_FILE = "results/epochs.csv"
WAVES_FILE = "results/waves.csv"
TIMING_FILE = "results/timing.json"
TUNING_FILE = "results/tuning.csv"  # the tuning stage (--tune-first): one row per tuning trial
TUNED = ("lr", "weight_decay", "label_smoothing")  # the hyperparameters a tuned study sets per configuration
TUNING_COLUMNS = ("config", "model", "tuning_trial", *TUNED, "inner_val_acc", "epochs_done")
WAVES_COLUMNS = ("look", "n_seeds", "n_looks", "max_seeds", "alpha_look", "min_effect", "term", "estimate", "se", "df",
                 "n_runs", "ci_low", "ci_high", "p_value", "p_holm", "status", "settled_at_look", "seeds_needed",
                 "decision", "reason")


def identity_columns(factors: Sequence[str]) -> list[str]:
    return [*IDENTITY, *factors, SEED]


def trial_columns(factors: Sequence[str]) -> list[str]:
    """Every column of trials.csv, in the order the study writes them."""
    return [*identity_columns(factors), *TRIAL_SUMMARY, *PLACEMENT, *(c for c in RECIPE if c not in factors)]


def epoch_columns(factors: Sequence[str]) -> list[str]:
    """Every column of epochs.csv, in the order the study writes them."""
    return [*identity_columns(factors), *EPOCH_METRICS, *PLACEMENT]
