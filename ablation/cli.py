"""The command line of `python ablation/run.py`: its flags, and an argument parser whose errors are one line.

Every flag defaults to None where the profile (or, on --resume, the saved spec) decides, so the runner can tell
what the user actually asked for.
"""
from __future__ import annotations

import argparse
import re
import sys

from analysis.defaults import MAX_FAILURES, MAX_SEEDS, POWER, WAVE
from analysis.results.schema import HEADLINE_METRICS
from search_spaces.profiles import DEFAULT_PROFILE, PROFILES
from search_spaces.tuning import DEFAULT_CONCURRENCY, DEFAULT_TRIALS
from trainables.components import registry

ALL_FACTORS = "all"  # --fold-over without a factor: every factor's signs
DESCRIPTION = "Run the ResNet-34 component ablation: every configuration x seed as Ray Tune trials, then the report."


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit code 2), never the usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one to show (None means 'the profile decides')."""

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python ablation/run.py", description=DESCRIPTION, formatter_class=_DefaultsShown)
    p.add_argument("--profile", help=f"defaults for everything below: {', '.join(PROFILES)} (smoke: seconds, for "
                                     f"tests; quick: digits on a laptop; paper: the original study's recipe, for "
                                     f"GPUs); default {DEFAULT_PROFILE}")
    p.add_argument("--data", help="an image folder (root/<class>/*.jpg or root/train|val/<class>) or a CSV of "
                                  "filename,label; default: the embedded scikit-learn digits")
    p.add_argument("--images", help="folder the CSV's filenames are relative to (default: the CSV's folder)")
    p.add_argument("--seeds", type=int, help="seeds per configuration (0..N-1); default: the profile's. With "
                                             "--resume: grow the study to N seeds")
    p.add_argument("--epochs", type=int, help="epochs per trial; default: the profile's")
    p.add_argument("--factors", nargs="+", help=f"factors to vary, of {list(registry())} and any registered with "
                                                "--components; default: shortcut se activation (2^3 = 8 "
                                                "configurations)")
    p.add_argument("--components", nargs="+", metavar="FILE",
                   help="Python file(s) registering components of your own (see examples/rezero.py)")
    p.add_argument("--fraction", help="run a regular fraction of the grid, e.g. 1/2, 1/4, 1/8 (minimum aberration, "
                                      "from the standard tables); the report states what it can and cannot separate")
    p.add_argument("--resolution", help="run the smallest tabulated fraction with at least this resolution "
                                        "(III, IV, V, ...)")
    p.add_argument("--fold-over", nargs="?", const=ALL_FACTORS, metavar="FACTOR",
                   help="with --resume: add the complementary fraction (every factor's signs, or FACTOR's only), "
                        "e.g. resolution III -> IV; finished trials are not run again")
    p.add_argument("--vary-split", action="store_true", help="give seed k its own stratified train/val split "
                                                             "(split seed 42 + k) instead of one split for all")
    p.add_argument("--image-size", type=int, help="stored and trained image size; default: the profile's")
    p.add_argument("--width", type=int, help="width of the first stage (64 = ResNet-34); default: the profile's")
    p.add_argument("--name", help="study name (folder under --storage); default: <profile>-<date-time>")
    p.add_argument("--storage", default="runs", help="folder or URI (s3://, gs://, file://) every node can reach")
    p.add_argument("--resume", action="store_true", help="continue the study --name without re-running "
                                                         "finished trials")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (also its torch threads)")
    p.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; 0.25 packs four trials on one GPU")
    p.add_argument("--max-failures", type=int, help=f"retries of a failing trial from its checkpoint (default {MAX_FAILURES})")
    p.add_argument("--address", help="join a running Ray cluster (auto or HOST:6379) instead of starting one")
    p.add_argument("--wandb", choices=["offline", "online", "disabled"],
                   help="W&B logging: offline files under the run folder (wandb sync later; the default), online, "
                        "or none")
    p.add_argument("--wandb-project", metavar="PROJECT", help="W&B project (default resnet-ablation; the entity "
                                                              "comes from WANDB_ENTITY)")
    p.add_argument("--verbose", action="store_true", help="also print Ray Tune's status table (every 30 s) and Ray's "
                                                          "INFO lines; by default one line per trial")
    p.add_argument("--large-study", action="store_true",
                   help="run a study above the size guard (trials x epochs over the concurrent slots; see "
                        "ablation/size_guard.py)")
    p.add_argument("--no-report", action="store_true", help="write the result tables only, no report")
    p.add_argument("--metric", choices=HEADLINE_METRICS, default="final_val_acc",
                   help="the report's headline response (default final_val_acc; every response is in its table)")
    p.add_argument("--claims", metavar="FILE", help="a CSV of claims for the report to test (default: the original "
                                                     "study's; columns id,text,response,kind,term,config_a,config_b,"
                                                     "direction)")
    p.add_argument("--min-effect", type=float, help="smallest effect of interest in percentage points, for the "
                                                    "report's planning and --until-settled (default 1)")
    # Seeds on demand
    p.add_argument("--plan", action="store_true", help="read the finished study --name and print the seeds, trials "
                                                       "and compute needed to detect --min-effect; trains nothing")
    p.add_argument("--power", type=float, help=f"power to plan for with --plan (default {POWER:g})")
    p.add_argument("--until-settled", action="store_true",
                   help="run in waves of --wave seeds per cell from --seeds, analysing after each, until every "
                        "term is resolved or shown smaller than --min-effect, or --max-seeds is reached")
    p.add_argument("--wave", type=int, help=f"seeds per cell added by each wave of --until-settled (default {WAVE})")
    p.add_argument("--max-seeds", type=int, help=f"the seed budget of --until-settled (default {MAX_SEEDS})")
    # The tuning stage (ablation/tune_first.py)
    p.add_argument("--tune-first", action="store_true",
                   help="before the ablation, tune lr, weight decay and label smoothing for EVERY configuration "
                        "(Optuna TPE + ASHA, the same budget each, scored on an inner split of the training set); "
                        "each configuration then runs with its own tuned values")
    p.add_argument("--tune-trials", type=int, help=f"tuning trials per configuration (default {DEFAULT_TRIALS}; "
                                                   "TPE samples at random for its first 10)")
    p.add_argument("--tune-epochs", type=int, help="epochs of a tuning trial, ASHA's maximum (default: --epochs)")
    p.add_argument("--tune-concurrency", type=int,
                   help=f"tuning trials run at once per configuration (default {DEFAULT_CONCURRENCY}: sequential, "
                        "reproducible; more is faster but TPE and ASHA then depend on timing)")
    return p


# Flags that fix what a study computes: a resumed study keeps its saved values, so giving one is an error.
FIXED_ON_RESUME = ("profile", "data", "images", "epochs", "factors", "components", "image_size", "width", "fraction",
                   "resolution")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def given(args: argparse.Namespace, names) -> list[str]:
    """The flags among `names` that the user gave (as --flag-name)."""
    flags = []
    for name in names:
        value = getattr(args, name)
        if value is not None and value is not False:
            flags.append(f"--{name.replace('_', '-')}")
    return flags


MAX_LINE = 400  # an error line longer than this is cut (a value the user typed can make any message long)


def fail(message: str) -> int:
    """The one error line of a refused request (exit code 2): huge numbers shortened, at most MAX_LINE."""
    message = re.sub(r"\d{16,}", lambda m: f"{m.group()[:6]}...({len(m.group())} digits)", " ".join(message.split()))
    if len(message) > MAX_LINE:
        message = message[:MAX_LINE - 3] + "..."
    print(f"error: {message}", file=sys.stderr)
    return 2
