"""The payment model: point in time, validated out of time, visible when it falls back."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from relief_kit import resources
from relief_kit.core.criteria import load_criteria
from relief_kit.core.history import features, features_of
from relief_kit.core.model import Action
from relief_kit.core.payment_model import (
    FACTS,
    PaymentModel,
    bill_facts,
    brier,
    fit_payment_model,
    log_loss,
    reliability,
)
from relief_kit.sources.tables import load_folder
from relief_kit.text.reasons import model_note_text, reason_text
from relief_kit.tools.sample.portfolio import generate

CRITERIA = load_criteria()
AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def sample():
    return load_folder(resources.SAMPLE)


@pytest.fixture(scope="module")
def model(sample):
    return fit_payment_model(sample.invoices, sample.customers, CRITERIA, AS_OF)


def test_scores_by_hand():
    p, y = np.array([0.9, 0.2]), np.array([1.0, 0.0])
    assert brier(p, y) == pytest.approx((0.01 + 0.04) / 2)
    assert log_loss(p, y) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    rows = reliability(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 1, 1, 1]), bins=2)
    assert rows == [{"bills": 2, "predicted": pytest.approx(0.15), "observed": 0.5},
                    {"bills": 2, "predicted": pytest.approx(0.85), "observed": 1.0}]


def test_on_the_bundled_sample_the_model_beats_the_base_rate_out_of_time(model):
    skill = model.skill
    assert model.used, model.note
    assert skill.cutoff is not None and skill.train_bills > 0 and skill.test_bills > 0
    assert skill.brier_model < skill.brier_base
    assert skill.log_loss_model < skill.log_loss_base
    assert sum(row["bills"] for row in skill.reliability) == skill.test_bills


def test_a_small_provider_falls_back_to_the_band_priors_and_says_so():
    tiny = generate(customers=15, months=12, requests=2, seed=3, as_of=AS_OF)
    model = fit_payment_model(tiny.invoices, tiny.customers, CRITERIA, AS_OF)
    assert not model.used and model.note.code == "short_history"
    assert "histórico curto" in model_note_text(model.note)
    frame = features(tiny.invoices, tiny.customers, CRITERIA, AS_OF)
    first = features_of(frame, tiny.customers["customer_id"].iat[0])
    p, factors = model.estimate(first, Action.DISCOUNT)
    assert p == model.calibration.probability(first.punctuality_band, Action.DISCOUNT)
    assert "modelo não usado" in reason_text(factors[0])


def test_facts_are_point_in_time_later_bills_do_not_leak(sample):
    invoices = sample.invoices
    before = bill_facts(invoices, sample.customers, CRITERIA, AS_OF)
    # Wipe every payment after a date: facts of bills due well before it must not move.
    cut = pd.Timestamp(2026, 3, 1)
    changed = invoices.copy()
    later = changed["paid_on"] > cut
    changed.loc[later, ["paid_on", "amount_paid"]] = [pd.NaT, np.nan]
    changed.loc[later, "status"] = "open"
    after = bill_facts(changed, sample.customers, CRITERIA, AS_OF)
    early = before["due_day"] < np.datetime64(cut - pd.Timedelta(days=40), "D").astype("int64")
    columns = [c for c in FACTS if c not in ("open_before",)]
    pd.testing.assert_frame_equal(before.loc[early, columns], after.loc[early, columns])


def test_reason_codes_name_the_facts_in_portuguese(model, sample):
    frame = features(sample.invoices, sample.customers, CRITERIA, AS_OF)
    customer = sample.requests["customer_id"].iat[0]
    p, factors = model.estimate(features_of(frame, customer), Action.INSTALMENTS, 1, 3.0)
    assert 0 < p < 1
    assert factors and all(f.code == "factor" and f.params["fact"] in FACTS for f in factors)
    assert all(reason_text(f).endswith(("aumenta a chance", "reduz a chance"))
               for f in factors)


def test_later_instalments_are_priced_with_their_own_rate(model, sample):
    frame = features(sample.invoices, sample.customers, CRITERIA, AS_OF)
    feats = features_of(frame, sample.requests["customer_id"].iat[0])
    chances = [model.estimate(feats, Action.INSTALMENTS, n, 3.0)[0] for n in (1, 2, 3, 4)]
    assert len(set(chances)) == 4  # one conditional rate per instalment, not p ** k


def test_the_model_survives_its_cache(model):
    again = PaymentModel.from_dict(model.to_dict())
    assert again.to_dict() == model.to_dict()


def test_a_due_date_change_is_told_from_a_postponed_debt(sample):
    facts = bill_facts(sample.invoices, sample.customers, CRITERIA, AS_OF)
    postponed = facts[facts["kind"] == "postponement"]
    changes = postponed[postponed["is_date_change"] == 1.0]
    debts = postponed[postponed["is_postponement"] == 1.0]
    assert len(changes) and len(debts)
    renegotiated = set(sample.invoices.loc[sample.invoices["status"] == "renegotiated",
                                           "customer_id"])
    assert not set(changes["customer_id"]) & renegotiated
    assert set(debts["customer_id"]) <= renegotiated


def test_moving_a_bill_not_yet_due_is_priced_as_a_due_date_change(model, sample):
    frame = features(sample.invoices, sample.customers, CRITERIA, AS_OF)
    feats = features_of(frame, sample.requests["customer_id"].iat[0])
    change, _ = model.estimate(feats, Action.POSTPONEMENT, 1, 1.0, upcoming=True)
    debt, _ = model.estimate(feats, Action.POSTPONEMENT, 1, 1.0, upcoming=False)
    assert change != debt


def test_later_instalments_are_conditional_on_the_earlier_ones_from_the_plans(model, sample):
    facts = bill_facts(sample.invoices, sample.customers, CRITERIA, AS_OF)
    plans = facts[facts["kind"] == "instalment"].sort_values(["customer_id", "due_day"])
    second = plans[plans["instalment_number"] == 1]
    before = plans.groupby("customer_id")["outcome"].shift(1).loc[second.index]
    reached = second[before == 1]
    k, bills, kept, _ = model.continuation[0]
    assert (k, bills, kept) == (2, len(reached), int(reached["outcome"].sum()))
    frame = features(sample.invoices, sample.customers, CRITERIA, AS_OF)
    feats = features_of(frame, sample.requests["customer_id"].iat[0])
    assert model.estimate(feats, Action.INSTALMENTS, 2, 3.0)[0] == model.continuation_rate(2)[0]


def _history_facts_bill_by_bill(sample) -> pd.DataFrame:
    """The facts of the customer's history, bill by bill, as the definitions say them:
    a plain loop over each customer's earlier bills (the oracle of the vectorised
    searches and sums of ``bill_facts``)."""
    from relief_kit.core.history import judged_bills

    grace = int(CRITERIA["punctuality.grace_days"])
    window = int(CRITERIA["calibration.window_days"])
    recent = int(CRITERIA["punctuality.recent_months"]) * 30
    bills = judged_bills(sample.invoices, CRITERIA, AS_OF)
    due = bills["due_date"].to_numpy().astype("datetime64[D]").astype(int)
    paid = bills["paid"].to_numpy(bool)
    paid_on = bills["paid_on"].fillna(bills["due_date"]).to_numpy().astype(
        "datetime64[D]").astype(int)
    taken = np.where(paid, paid_on - due, 10**6)
    judged = bills["judged"].to_numpy(bool)
    on_time = bills["on_time"].to_numpy(bool) & judged
    relief = bills["relief"].to_numpy(bool)
    rows = []
    for _, mine in bills.groupby("customer_id", sort=False).indices.items():
        mine = sorted(mine, key=lambda i: (due[i], i))  # by due day, ties in file order
        for b in mine:
            d = due[b]
            known = [e for e in mine if due[e] < d - grace]
            recent_known = [e for e in known if due[e] >= d - grace - recent]
            past = [e for e in mine if due[e] < d - window]
            recent_past = [e for e in past if due[e] >= d - window - recent]
            late = [e for e in past if judged[e] and not on_time[e]]
            n_judged = sum(judged[e] for e in known)
            n_on = sum(on_time[e] for e in known)
            n_recent = sum(judged[e] for e in recent_known)
            month_paid = sum(taken[e] <= window for e in past)
            recent_paid = sum(taken[e] <= window for e in recent_past)
            late_paid = sum(taken[e] <= window for e in late)
            last = past[-1] if past else None
            earlier = sum(due[e] < d for e in mine)
            paid_by_then = sum(paid[e] and paid_on[e] <= d for e in mine)
            own = paid[b] and paid_on[b] <= d
            rows.append({
                "row": b,
                "month_share": (month_paid + 1) / (len(past) + 2),
                "history_length": np.log1p(n_judged),
                "recent_share": (sum(on_time[e] for e in recent_known) / n_recent
                                 if n_recent else (n_on + 1) / (n_judged + 2)),
                "open_before": float(min(max(earlier - (paid_by_then - own), 0), 6)),
                "kept_before": float(any(judged[e] and relief[e] and on_time[e]
                                         for e in known)),
                "broken_before": float(any(judged[e] and relief[e] and not on_time[e]
                                           for e in known)),
                "recent_month_share": (recent_paid + 1) / (len(recent_past) + 2),
                "unpaid_recent": float(len(recent_past) - recent_paid),
                "last_in_window": 0.5 if last is None else float(taken[last] <= window),
                "last_delay": 0.0 if last is None else min(
                    max(taken[last], 0), d - due[last], 120) / 30,
                "late_paid_share": (late_paid + 1) / (len(late) + 2),
                "late_count": np.log1p(len(late)),
            })
    return pd.DataFrame(rows).set_index("row").sort_index()


def test_the_vectorised_facts_are_the_customer_history_bill_by_bill(sample):
    facts = bill_facts(sample.invoices, sample.customers, CRITERIA, AS_OF)
    expected = _history_facts_bill_by_bill(sample).drop(columns="open_before")
    pd.testing.assert_frame_equal(facts[list(expected.columns)], expected,
                                  check_index_type=False, check_names=False)


def test_open_bills_before_each_bill_are_counted_bill_by_bill(sample):
    facts = bill_facts(sample.invoices, sample.customers, CRITERIA, AS_OF)
    expected = _history_facts_bill_by_bill(sample)["open_before"]
    pd.testing.assert_series_equal(facts["open_before"], expected, check_index_type=False,
                                   check_names=False)


def test_the_model_facts_are_the_comparable_rows_of_all_facts(sample):
    every = bill_facts(sample.invoices, sample.customers, CRITERIA, AS_OF)
    comparable = bill_facts(sample.invoices, sample.customers, CRITERIA, AS_OF,
                            comparable_only=True)
    assert 0 < len(comparable) < len(every)
    pd.testing.assert_frame_equal(comparable, every[every["comparable"]])


def test_one_cases_estimates_sharing_the_customer_part_are_the_full_scorecard_of_each_option(
        sample, model):
    """``estimates`` computes the customer's points once and adds each option's: the
    chance is exactly that of the scorecard over all the facts of that option."""
    import math

    from relief_kit.core.payment_model import case_facts

    frame = features(sample.invoices, sample.customers, CRITERIA, AS_OF)
    options = [(Action.DISCOUNT, 1, False), (Action.POSTPONEMENT, 1, False),
               (Action.POSTPONEMENT, 1, True), (Action.INSTALMENTS, 1, False),
               (Action.REFUSAL, 1, False)]
    for customer in list(frame.index)[:40]:
        feats = features_of(frame, customer)
        estimate = model.estimates(feats, 2.5)
        for action, number, upcoming in options:
            z, _ = model.log_odds(case_facts(feats, action, number, 2.5, upcoming,
                                             model.window_days))
            p, factors = estimate(action, number, upcoming)
            assert p == 1.0 / (1.0 + math.exp(-z))  # exactly: the same sums
            assert (p, factors) == model.estimate(feats, action, number, 2.5, upcoming)


def test_the_features_and_model_computed_side_by_side_are_those_computed_one_by_one(
        sample, model):
    from relief_kit.shell.fitting import history_and_model

    alone = features(sample.invoices, sample.customers, CRITERIA, AS_OF)
    frame, together = history_and_model(sample.invoices, sample.customers, CRITERIA, AS_OF)
    pd.testing.assert_frame_equal(frame, alone, check_exact=True)
    assert together.used and together.to_dict() == model.to_dict()
    pd.testing.assert_frame_equal(together.calibration.outcomes, model.calibration.outcomes,
                                  check_exact=True)
    only_features, no_model = history_and_model(sample.invoices, sample.customers, CRITERIA,
                                                AS_OF, with_model=False)
    no_features, only_model = history_and_model(sample.invoices, sample.customers, CRITERIA,
                                                AS_OF, with_features=False)
    assert no_model is None and no_features is None
    pd.testing.assert_frame_equal(only_features, alone, check_exact=True)
    assert only_model.to_dict() == model.to_dict()


def test_a_repeated_customer_fails_the_same_way_when_the_features_run_aside(sample):
    from relief_kit.core.errors import InputError
    from relief_kit.shell.fitting import history_and_model

    repeated = pd.concat([sample.customers, sample.customers.iloc[[3]]], ignore_index=True)
    with pytest.raises(InputError, match="customer_id: o cliente .* mais de uma vez"):
        history_and_model(sample.invoices, repeated, CRITERIA, AS_OF)


def test_the_fit_reads_the_customers_due_spans_it_is_handed_once(sample, model):
    # shell.fitting computes each customer's first and last due date beside the fits and
    # hands the scorecard a function that waits for them: called once.
    from relief_kit.core.payment_model import due_span, fit_scorecard

    calls = []

    def spans():
        calls.append(len(calls))
        return due_span(sample.invoices)

    handed = fit_scorecard(sample.invoices, sample.customers, CRITERIA, AS_OF, spans=spans)
    assert calls == [0]
    assert handed.with_calibration(model.calibration).to_dict() == model.to_dict()
    first, last = due_span(sample.invoices)
    live = sample.invoices[sample.invoices["status"] != "cancelled"]
    expected = live.groupby("customer_id")["due_date"].agg(["min", "max"])
    assert first.to_dict() == expected["min"].to_dict()
    assert last.to_dict() == expected["max"].to_dict()
