"""The named models and their configurations."""
from __future__ import annotations


from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.stats.paired import NAMED_MODELS


def section(doc: Document, a: Analysis) -> None:
    doc.heading("Where the names come from")
    named = ", ".join(f"{n} ({', '.join(f'{k}={v}' for k, v in lv.items())})" for n, lv in NAMED_MODELS.items())
    doc.paragraph("Model names and configuration ids are read from the `model` and `config` columns of "
                  "`results/trials.csv`, which the study writes from its factor definitions; factors are the "
                  "columns between `model` and `seed`, their level order comes from `spec.yaml` where the run "
                  "directory has one, otherwise False before True, numbers ascending, relu before mish. The "
                  f"original study's named models are recognised by their factor levels: {named}.")
