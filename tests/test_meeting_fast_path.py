"""The meeting's shared and joined computations give the figures of the straightforward
ones (one customer, one agreement, one case at a time), on the sample portfolio."""

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from relief_kit.core.agreements import Agreement, payments, payments_all, to_cents
from relief_kit.core.bills import bills_concerned, bills_concerned_all
from relief_kit.core.calendar import BusinessCalendar, MunicipalHoliday
from relief_kit.core.criteria import load_criteria
from relief_kit.core.decisions import CoveredBill
from relief_kit.core.model import Action
from relief_kit.shell.replay import recommend_all, replay_inputs
from relief_kit.sources.tables import load_folder

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
LATER = date(2027, 3, 1)


@pytest.fixture(scope="module")
def portfolio():
    return load_folder(SAMPLE)


@pytest.mark.parametrize("when", ["as_of", "later"])
def test_bills_of_every_case_at_once_are_those_found_one_customer_at_a_time(portfolio, when):
    as_of = portfolio.as_of if when == "as_of" else LATER
    customers = portfolio.customers_by_id()
    asking = {c: customers[c] for c in portfolio.requests["customer_id"] if c in customers}
    together = bills_concerned_all(portfolio.invoices, asking, as_of)
    assert set(together) == set(asking)
    for customer_id, customer in asking.items():
        alone = bills_concerned(portfolio.invoices_of(customer_id), customer, as_of)
        assert together[customer_id] == alone, customer_id
    # Both kinds occur on the sample: open bills, and the next bill of the cycle.
    assert any(not b[0].upcoming for b in together.values())
    assert any(b[0].upcoming for b in together.values())


def test_payments_of_every_agreement_at_once_are_those_of_each_agreement(portfolio):
    decided_on = portfolio.as_of - timedelta(days=75)
    agreements = []
    for customer_id in dict.fromkeys(portfolio.requests["customer_id"]):
        bills = portfolio.invoices_of(customer_id)
        # The bills still unpaid on the decision's day (the export shows them paid later),
        # the first one then partly paid already.
        unpaid = bills[(bills["due_date"] <= pd.Timestamp(decided_on))
                       & ~(bills["paid_on"] <= pd.Timestamp(decided_on))]
        covered = tuple(CoveredBill(str(r.invoice_id), r.due_date.date(),
                                    to_cents(r.amount) - (Decimal("10.00") if i == 0 else 0))
                        for i, r in enumerate(unpaid.itertuples()))
        agreements.append(Agreement(customer_id, customer_id, covered, decided_on))
    together = payments_all(portfolio.invoices, agreements)
    found = 0
    for agreement in agreements:
        alone = payments(portfolio.invoices_of(agreement.customer_id), agreement.covered,
                         agreement.decided_on)
        assert together[agreement.key] == alone, agreement.key
        found += len(alone)
    assert found > 0  # payments after the decision exist: the comparison is not empty


def test_proposed_replay_sharing_the_money_comparison_recommends_as_computed_afresh(
        portfolio, tmp_path):
    criteria = load_criteria()
    path = tmp_path / "proposta.toml"
    path.write_text((SAMPLE.parent / "criteria.toml").read_text(encoding="utf-8").replace(
        "grant_threshold = 1", "grant_threshold = 3"), encoding="utf-8")
    proposed = load_criteria(path)
    as_of = portfolio.as_of
    current_inputs = replay_inputs(portfolio, criteria, as_of=as_of)
    current = recommend_all(portfolio, criteria, as_of=as_of, inputs=current_inputs,
                            explain=False)
    proposed_inputs = replay_inputs(portfolio, proposed, as_of=as_of, like=current_inputs)
    shared = recommend_all(portfolio, proposed, as_of=as_of, inputs=proposed_inputs,
                           explain=False, like=current, like_inputs=current_inputs)
    afresh = recommend_all(portfolio, proposed, as_of=as_of)
    changed = 0
    for fast, slow, now in zip(shared, afresh, current, strict=True):
        assert fast.recommendation.action == slow.recommendation.action
        assert fast.recommendation.terms == slow.recommendation.terms
        assert fast.recommendation.options == slow.recommendation.options
        assert fast.recommendation.reasons == slow.recommendation.reasons
        changed += now.recommendation.action != fast.recommendation.action
    assert changed > 0  # the proposal does change some cases


def test_explanations_left_out_change_no_recommendation(portfolio):
    explained = recommend_all(portfolio, load_criteria(), as_of=portfolio.as_of)
    plain = recommend_all(portfolio, load_criteria(), as_of=portfolio.as_of, explain=False)
    for a, b in zip(explained, plain, strict=True):
        assert (a.recommendation.action, a.recommendation.terms, a.recommendation.options) == (
            b.recommendation.action, b.recommendation.terms, b.recommendation.options)
    assert any(a.recommendation.what_would_change for a in explained)
    assert not any(b.recommendation.what_would_change for b in plain)
    assert {a.recommendation.action for a in plain} & {Action.REFUSAL, Action.ASK_INFO}


@pytest.mark.parametrize("calendar", [
    BusinessCalendar(),
    BusinessCalendar(state="MG", municipal=(MunicipalHoliday(8, 15),), carnival=True,
                     optional_days=True),
])
def test_business_days_between_counts_as_walking_day_by_day(calendar):
    start = date(2025, 12, 20)
    for end in (start, start - timedelta(days=3), date(2026, 1, 2), date(2026, 3, 1),
                date(2027, 2, 15)):
        walked, day = 0, start
        while day < end:
            day += timedelta(days=1)
            walked += day.weekday() < 5 and not calendar.is_holiday(day)
        assert calendar.business_days_between(start, end) == walked


def test_requests_for_information_left_unpriced_change_no_recommendation(portfolio):
    criteria = load_criteria()
    priced = recommend_all(portfolio, criteria, as_of=portfolio.as_of, explain=False)
    plain = recommend_all(portfolio, criteria, as_of=portfolio.as_of, explain=False,
                          price_asking=False)
    for a, b in zip(priced, plain, strict=True):
        ra, rb = a.recommendation, b.recommendation
        assert (ra.action, ra.terms, ra.reasons, ra.score, ra.missing) == (
            rb.action, rb.terms, rb.reasons, rb.score, rb.missing)
        # Only a request for information goes without its money comparison.
        assert rb.options == (() if ra.action is Action.ASK_INFO else ra.options)
    assert any(a.recommendation.action is Action.ASK_INFO for a in priced)


def test_the_meeting_tables_are_those_of_a_replay_pricing_every_request(tmp_path):
    """build_inputs leaves requests for information unpriced, a decided one included:
    every table, the what-if's and the decisions' present values among them, is the one
    computed from a replay that prices every request."""
    import shutil

    from relief_kit.shell.meeting import MeetingInputs, build_inputs, meeting_tables
    from relief_kit.shell.pseudonyms import Pseudonymizer
    from relief_kit.store.cases import open_store
    from relief_kit.tools.demo import simulate_decisions

    folder = tmp_path / "dados"
    shutil.copytree(SAMPLE, folder)
    simulate_decisions(folder, 1)
    path = tmp_path / "proposta.toml"
    path.write_text((SAMPLE.parent / "criteria.toml").read_text(encoding="utf-8").replace(
        "grant_threshold = 1", "grant_threshold = 3"), encoding="utf-8")
    inputs = build_inputs(folder, proposed_path=path)
    assert any(not c.recommendation.options for c in inputs.current)  # some left unpriced
    with open_store(folder) as store:
        latest = store.latest_decisions()
    answers = {d.request_id: d.checklist for d in latest}
    everything = recommend_all(inputs.portfolio, inputs.criteria, as_of=inputs.as_of,
                               inputs=inputs.replay, answers=answers, explain=False)
    pseudonym = Pseudonymizer(b"k" * 32)
    fast = meeting_tables(inputs, pseudonym)
    slow = meeting_tables(MeetingInputs(
        inputs.portfolio, inputs.criteria, inputs.proposed, inputs.decisions, inputs.as_of,
        inputs.replay, everything), pseudonym)
    assert fast.keys() == slow.keys()
    for title in fast:
        pd.testing.assert_frame_equal(fast[title], slow[title], obj=title)
    assert len(fast["E se: casos que mudam"])


def test_cycle_collection_is_paused_inside_and_restored_after():
    import gc

    from relief_kit.shell.replay import cycle_collection_paused

    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(ValueError), cycle_collection_paused():
        raise ValueError
    assert gc.isenabled()


def test_a_decided_request_for_information_is_priced_for_the_decisions_table(tmp_path):
    """A decision whose answers now lead to asking for information (an undocumented
    request, say) still gets the present value of what was decided."""
    import dataclasses
    import shutil

    from relief_kit.shell.meeting import decisions_frame
    from relief_kit.store.cases import open_store
    from relief_kit.tools.demo import simulate_decisions

    folder = tmp_path / "dados"
    shutil.copytree(SAMPLE, folder)
    simulate_decisions(folder, 1)
    portfolio, criteria = load_folder(folder), load_criteria()
    with open_store(folder) as store:
        latest = store.latest_decisions()
    latest = [dataclasses.replace(d, checklist=dataclasses.replace(d.checklist,
                                                                    documented=False))
              for d in latest]
    answers = {d.request_id: d.checklist for d in latest}
    inputs = replay_inputs(portfolio, criteria, as_of=portfolio.as_of)
    frames = []
    for price_asking in (True, False):
        cases = recommend_all(portfolio, criteria, as_of=portfolio.as_of, inputs=inputs,
                              answers=answers, explain=False, price_asking=price_asking)
        assert all(c.recommendation.action is Action.ASK_INFO for c in cases
                   if c.request_id in answers)
        frames.append(decisions_frame(portfolio, latest, criteria, portfolio.as_of,
                                      recommendations={c.request_id: c for c in cases},
                                      inputs=inputs))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[1]["decided_value"].ne(0).any()


def test_requests_and_customers_converted_at_once_are_those_looked_up_one_by_one(portfolio):
    requests = portfolio.requests_by_id()
    assert list(requests) == list(dict.fromkeys(portfolio.requests["request_id"]))
    for request_id, request in requests.items():
        assert request == portfolio.request(request_id), request_id
    customers = portfolio.customers_by_id()
    assert len(customers) == portfolio.customers["customer_id"].nunique()
    for customer_id, customer in customers.items():
        assert customer == portfolio.customer(customer_id), customer_id
    # Missing answers occur on the sample: None, as one by one.
    assert any(r.small_business is None or r.proposed_date is None
               for r in requests.values())


def test_the_meeting_keeps_freed_memory_for_reuse_where_the_c_library_is_glibc():
    # In a process of its own: the setting lasts until the process exits.
    import platform
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "from relief_kit.shell.heap import keep_freed_memory as k; "
                               "print(k(), k())"], capture_output=True, text=True, check=True)
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert done.stdout.split() == ([str(glibc)] * 2)
