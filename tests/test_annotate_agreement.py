"""Agreement figures against values worked out by hand (and scikit-learn where it applies)."""

from __future__ import annotations

import pytest
from sklearn.metrics import cohen_kappa_score

from cvalues.annotate.agreement import (
    agreement_report,
    cohen_kappa,
    disagrees,
    krippendorff_alpha,
    majority,
    pairwise_kappa,
    settle,
    vs_majority,
    vs_mean,
)

S, U = "safe", "unsafe"
#: Three annotators, four answers; C skipped the fourth.
SAFETY = {
    1: {"A": S, "B": S, "C": S},
    2: {"A": S, "B": U, "C": S},
    3: {"A": U, "B": U, "C": U},
    4: {"A": S, "B": S},
}


def test_nominal_alpha_by_hand() -> None:
    # Coincidences: o_ss = 3 + 1 + 2 = 6, o_su = o_us = 1, o_uu = 3; n = 11, n_s = 7, n_u = 4.
    # D_o = 2/11, D_e = 2*7*4 / (11*10) = 56/110, alpha = 1 - 20/56 = 36/56.
    assert krippendorff_alpha(SAFETY, nominal=True) == pytest.approx(36 / 56)


def test_interval_alpha_by_hand() -> None:
    # Values 1,2 | 3,3 | 5,4: D_o = 4/6; D_e = (2*6*64 - 2*18^2) / (6*5) = 4; alpha = 1 - (4/6)/4 = 5/6.
    units = {1: {"A": 1, "B": 2}, 2: {"A": 3, "B": 3}, 3: {"A": 5, "B": 4}}
    assert krippendorff_alpha(units, nominal=False) == pytest.approx(5 / 6)


def test_alpha_undefined_without_variation_or_pairs() -> None:
    assert krippendorff_alpha({1: {"A": S, "B": S}, 2: {"A": S, "B": S}}, nominal=True) is None
    assert krippendorff_alpha({1: {"A": S}, 2: {"B": U}}, nominal=True) is None


def test_pairwise_kappa_by_hand() -> None:
    kappas = {(k["a"], k["b"]): (k["kappa"], k["n"]) for k in pairwise_kappa(SAFETY)}
    # A,B: p_o = 3/4, p_e = (3*2 + 1*2)/16 = 1/2 -> 0.5.  A,C: identical on 3 -> 1.
    # B,C: p_o = 2/3, p_e = (1*2 + 2*1)/9 = 4/9 -> (2/9)/(5/9) = 0.4.
    assert kappas[("A", "B")] == (pytest.approx(0.5), 4)
    assert kappas[("A", "C")] == (pytest.approx(1.0), 3)
    assert kappas[("B", "C")] == (pytest.approx(0.4), 3)
    a, b = [S, S, U, S], [S, U, U, S]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_weighted_kappa_by_hand_and_against_sklearn() -> None:
    a, b = [1, 3, 5], [2, 3, 4]
    # observed = (1 + 0 + 1)/3; expected = (14 + 2 + 14)/9; kappa = 1 - (2/3)/(30/9) = 0.8
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(0.8)
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(
        cohen_kappa_score(a, b, weights="quadratic")
    )
    a, b = [7, 8, 9, 10, 6, 8], [8, 8, 10, 9, 7, 6]
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(
        cohen_kappa_score(a, b, weights="quadratic")
    )
    assert cohen_kappa([], []) is None
    assert cohen_kappa([S, S], [S, S]) is None  # p_e = 1: undefined


def test_agreement_with_the_others_majority() -> None:
    # A: u2 others tie (left out) -> 3/3; B: disagrees on u2 -> 3/4; C: u2 tie, u4 absent -> 2/2.
    assert vs_majority(SAFETY) == {
        "A": {"n": 3, "agreement": 1.0},
        "B": {"n": 4, "agreement": 0.75},
        "C": {"n": 2, "agreement": 1.0},
    }
    units = {1: {"A": 2, "B": 4, "C": 9}}
    # A: |2 - 6.5| = 4.5; B: |4 - 5.5| = 1.5; C: |9 - 3| = 6
    assert {k: v["mae"] for k, v in vs_mean(units).items()} == {"A": 4.5, "B": 1.5, "C": 6.0}


def test_settle_majority_mean_tie_and_adjudication() -> None:
    assert majority([S, U, S]) == S
    assert majority([S, U]) is None
    assert settle([S, U], "safety") is None
    assert settle([S, U], "safety", adjudicated=U) == U
    assert settle([7, 8], "responsibility") == 7.5
    assert settle([7, 8], "responsibility", adjudicated=3) == 3
    assert disagrees([S, U], "safety") and not disagrees([S, S], "safety")
    assert disagrees([3, 5], "responsibility") and not disagrees([4, 5], "responsibility")


def test_report_shape() -> None:
    report = agreement_report(SAFETY, "safety")
    assert report["alpha_level"] == "nominal" and report["units_with_2_or_more"] == 4
    assert report["alpha"] == pytest.approx(36 / 56)
    assert agreement_report({1: {"A": 3, "B": 5}, 2: {"A": 8, "B": 9}}, "responsibility")[
        "kappa_weights"
    ] == ("quadratic")
