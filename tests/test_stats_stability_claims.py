"""val_jumpiness on hand-made curves, and the claims file reader and evaluator on hand-built effect tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.claims import (CONTRADICTED, NOT_RESOLVED, ORIGINAL_STUDY, SUPPORTED, ClaimsError,
                                   evaluate_claims, read_claims)
from analysis.results.stability import val_jumpiness


def curves(**trials) -> pd.DataFrame:
    return pd.DataFrame([{"trial_id": t, "epoch": e + 1, "val_acc": v} for t, vals in trials.items()
                         for e, v in enumerate(vals)])


def test_jumpiness_is_the_mean_absolute_change_over_the_second_half():
    frame = curves(even=[0.1, 0.5, 0.4, 0.6], odd=[0.2, 0.3, 0.1], flat=[0.5, 0.7, 0.7, 0.7, 0.7, 0.7],
                   one=[0.4])
    j = val_jumpiness(frame.sample(frac=1, random_state=0))  # row order does not matter
    assert j["even"] == pytest.approx((0.1 + 0.2) / 2)  # changes into epochs 3 and 4
    assert j["odd"] == pytest.approx((0.1 + 0.2) / 2)  # E = 3: changes into epochs 2 and 3
    assert j["flat"] == 0.0  # the first-half jump (epoch 2) is not counted
    assert np.isnan(j["one"]) and list(j.index) == ["even", "flat", "odd", "one"]


def test_a_curve_with_a_missing_epoch_has_no_jumpiness():
    frame = curves(gap=[0.1, 0.2, 0.3, 0.4]).query("epoch != 3")
    assert np.isnan(val_jumpiness(frame)["gap"])


def effects(response, **terms):
    return pd.DataFrame([{"response": response, "term": t, "estimate": e, "ci_low": e - 0.01, "ci_high": e + 0.01,
                          "resolved": r, "seeds_needed": 12.0} for t, (e, r) in terms.items()])


def spreads(**terms):
    return pd.DataFrame([{"response": "final_val_acc", "term": t, "sd_ratio": s, "ci_low": s / 2,
                          "ci_high": s * 2, "resolved": r} for t, (s, r) in terms.items()])


def test_the_original_claims_get_each_verdict_from_hand_built_tables():
    claims = read_claims(ORIGINAL_STUDY)
    location = pd.concat([effects("final_train_acc", shortcut=(0.2, True)),
                          effects("final_val_acc", activation=(-0.03, True)),
                          effects("val_jumpiness", activation=(-0.004, False), shortcut=(-0.01, True))])
    dispersion = spreads(activation=(0.5, False), shortcut=(0.2, True))
    paired = pd.DataFrame([{"response": "final_val_acc", "baseline": "ResNet-34", "model": "Plain-34",
                            "mean_diff": -0.15, "ci_low": -0.2, "ci_high": -0.1, "resolved": True,
                            "seeds_needed": 3.0}])
    out = evaluate_claims(claims, location, dispersion, best_set={"SE-ResNet-34", "ResNet-34"},
                          seeds_needed={"mish_stable_seeds": 40}, comparisons=paired).set_index("claim")
    assert out.loc["plain_degrades", "verdict"] == SUPPORTED and out.loc["plain_degrades", "estimate"] == 0.2
    assert out.loc["residual_fixes", "verdict"] == SUPPORTED  # Plain - ResNet reversed to ResNet - Plain
    assert (out.loc["residual_fixes", ["estimate", "ci_low", "ci_high"]].tolist() == [0.15, 0.1, 0.2])
    assert out.loc["mish_raises", "verdict"] == CONTRADICTED
    assert out.loc["se_best", "verdict"] == NOT_RESOLVED  # ResNet-34 may be best too
    assert out.loc["mish_stable_seeds", ["verdict", "seeds_needed"]].tolist() == [NOT_RESOLVED, 40]
    assert out.loc["mish_stable_run", ["verdict", "seeds_needed"]].tolist() == [NOT_RESOLVED, 12]
    assert out.loc["shortcut_stable_seeds", ["verdict", "estimate"]].tolist() == [SUPPORTED, 0.2]
    assert out.loc["shortcut_stable_run", "verdict"] == SUPPORTED
    assert np.isnan(out.loc["shortcut_stable_run", "seeds_needed"])  # resolved: nothing more needed
    def best(members):
        return evaluate_claims(claims, location, dispersion, best_set=members).set_index("claim").loc["se_best",
                                                                                                      "verdict"]
    assert best({"SE-ResNet-34"}) == SUPPORTED and best({"ResNet-34"}) == CONTRADICTED and best(None) == NOT_RESOLVED


def test_a_widening_dispersion_effect_contradicts_a_stabilisation_claim_and_terms_match_in_any_order(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(HEADER + ""
                    "x,SE and Mish together steady it,final_val_acc,dispersion,activation:se,,,-\n"
                    "y,no estimate for this one,final_val_acc,location,rezero,,,+\n")
    out = evaluate_claims(read_claims(path), effects("final_val_acc"), spreads(**{"se:activation": (3.0, True)}))
    assert out["verdict"].tolist() == [CONTRADICTED, NOT_RESOLVED] and np.isnan(out["estimate"].iloc[1])


HEADER = "id,text,response,kind,term,config_a,config_b,direction\n"


@pytest.mark.parametrize("body, message", [
    ("id,text,response,kind,term,config_a,direction\n", "missing column(s) config_b"),
    (HEADER + "x,t,final_val_acc,mean,se,,,+\n", "row 2: unknown kind 'mean'"),
    (HEADER + "x,t,final_val_acc,location,se,,,up\n", "direction must be + or -"),
    (HEADER + "x,t,final_val_acc,location,,,,+\n", "needs a term"),
    (HEADER + "x,t,final_val_acc,comparison,,A,,+\n", "needs config_b"),
    (HEADER + "x,t,r,location,se,,,+\nx,t,r,location,se,,,+\n", "row 3: duplicate id"),
    (HEADER, "no claims"),
])
def test_bad_claims_files_fail_in_one_line(tmp_path, body, message):
    path = tmp_path / "claims.csv"
    path.write_text(body)
    with pytest.raises(ClaimsError) as caught:
        read_claims(path)
    assert message in str(caught.value) and "\n" not in str(caught.value) and isinstance(caught.value, ValueError)


def test_an_effects_table_without_a_response_column_is_refused():
    with pytest.raises(ValueError, match="`response` column"):
        evaluate_claims(read_claims(ORIGINAL_STUDY), effects("final_val_acc", shortcut=(0.1, True)).drop(
            columns="response"), None)


def test_a_missing_claims_file_fails_in_one_line(tmp_path):
    with pytest.raises(ClaimsError, match="no such file"):
        read_claims(tmp_path / "absent.csv")
