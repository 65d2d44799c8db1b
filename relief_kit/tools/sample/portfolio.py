"""The synthetic sample portfolio behind ``relief-kit sample`` and the demo.

A regional provider's customers (Faker pt_BR names, valid CPF/CNPJ, one area code,
a few neighbourhoods of one or two towns), their monthly bills with the payment
behaviours a real portfolio has, and a few dozen relief requests, most of them written
as WhatsApp exports or e-mails (composed in :mod:`relief_kit.tools.sample.evidence`).

Customers and bills are drawn vectorised, numpy over customers × months, so 100,000
customers × 24 months take seconds. Everything comes from one seed: the same
arguments give the same bytes. The region, plans and names live in
``templates/sample/portfolio.toml``; the request texts in ``templates/sample/requests.toml``.
"""

from __future__ import annotations

import calendar
import os
import random
import shutil
import tempfile
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from relief_kit import resources
from relief_kit.core import schema
from relief_kit.core.errors import InputError
from relief_kit.core.settings import Provider

SAMPLE_TEMPLATES = resources.template_dir("sample")
SOURCE = "sample"

#: Payment behaviours of the portfolio, and their shares.
BEHAVIOURS = (
    "punctual",  # pays by the due date, rarely a few days late
    "sometimes_late",  # mostly on time, now and then weeks late
    "chronically_late",  # most bills late, some left open for months
    "recent_shock",  # punctual until the last 2–3 months, then late or unpaid
    "new",  # joined in the last half year
    "relief_kept",  # was granted relief months ago and kept the arrangement
    "relief_broken",  # was granted relief and did not keep it
)
BEHAVIOUR_SHARES = (0.42, 0.20, 0.09, 0.09, 0.10, 0.05, 0.05)
(PUNCTUAL, SOMETIMES, CHRONIC, SHOCK, NEW, KEPT, BROKEN) = range(len(BEHAVIOURS))

# Payment parameters: chance a bill is paid past the grace period, scale of the delay
# (days, gamma-distributed past the grace period), chance it is not paid at all, chance
# it is paid a few days late but within the grace period.
_PAY = {
    "punctual": (0.03, 4.0, 0.0, 0.08),
    "sometimes_late": (0.25, 8.0, 0.01, 0.12),
    "chronically_late": (0.65, 14.0, 0.05, 0.10),
    "late_newcomer": (0.40, 10.0, 0.05, 0.10),
    "after_shock": (0.35, 10.0, 0.60, 0.0),
    "before_relief": (0.20, 8.0, 0.01, 0.10),
    "after_kept": (0.06, 5.0, 0.0, 0.08),
    "after_broken": (0.50, 14.0, 0.12, 0.10),
}
_DUE_DAYS = np.array([5, 10, 15, 20])
_ISSUE_DAYS_BEFORE_DUE = 10
_NOTICE_DAYS_AFTER_DUE = 5  # the ERP's dunning run: overdue notice 5 days after the due date
_LATE_FINE = 0.02  # CDC/Anatel: fine up to 2 %
_DAILY_INTEREST = 0.01 / 30  # interest up to 1 % a month
_NEVER = 10**6  # a delay meaning "not paid"
_FIRST_INVOICE_ID = 100_001
_FIRST_CUSTOMER_ID = 1_001

#: Request groups: customers in trouble, punctual ones hit for the first time,
#: opportunists drawn by word of a discount.
TROUBLE, FIRST_TIME, OPPORTUNIST = "trouble", "first_time", "opportunist"
_GROUP_SHARES = {TROUBLE: 0.62, FIRST_TIME: 0.25, OPPORTUNIST: 0.13}
_CHANNEL_SHARES = {"whatsapp": 0.5, "email": 0.2, "phone": 0.2, "in_person": 0.1}
_HOUSEHOLD_SITUATIONS = {
    "lost_job": 0.30, "income_down": 0.20, "salary_delay": 0.12, "illness": 0.15,
    "unexpected_expense": 0.13, "separation": 0.10,
}
#: The intake's coarse hardship category for what the customer says happened.
_HARDSHIP_OF = {
    "lost_job": "job_loss", "income_down": "income_drop", "salary_delay": "income_drop",
    "illness": "illness", "unexpected_expense": "other", "separation": "other",
    "business_down": "business_down", "opportunist": "none",
}
#: The chance that a customer who states a hardship also says what they can pay a month,
#: by the kind of hardship and the depth of the debt open at the request (in monthly
#: fees). Income that stopped or fell (job loss, income drop, business down) leaves a
#: monthly budget the customer talks about ("consigo pagar uns 60 reais por mês"), most of
#: all with several bills open; an illness or another one-off expense is about a bill,
#: not a budget, and the customer says so less often.
_INCOME_HARDSHIPS = ("job_loss", "income_drop", "business_down")
_CAPACITY_STATED = {  # (income hardship?, depth): chance
    (True, "several"): 0.9, (True, "one"): 0.35, (True, "none"): 0.1,
    (False, "several"): 0.5, (False, "one"): 0.15, (False, "none"): 0.05,
}
_AT_RISK_SHARES = {"idoso": 0.5, "doenca_cronica": 0.25, "deficiencia": 0.15, "outro": 0.10}
_EMAIL_STYLES = {"utf8_alternative": 0.4, "utf8_plain": 0.2, "latin1": 0.25, "html_only": 0.15}


@dataclass(frozen=True)
class SamplePortfolio:
    """A generated portfolio: the three canonical tables, the evidence files and the
    reference date. ``behaviours`` (customer id → one of :data:`BEHAVIOURS`) and
    ``situations`` (request id → what the customer says happened) are what the
    generator intended; they are not part of the data folder."""

    customers: pd.DataFrame
    invoices: pd.DataFrame
    requests: pd.DataFrame
    evidence: dict[str, bytes]
    as_of: date
    behaviours: pd.Series
    situations: pd.Series
    parameters: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def _portfolio_data() -> dict:
    return tomllib.loads((SAMPLE_TEMPLATES / "portfolio.toml").read_text(encoding="utf-8"))


def _quota(n: int, shares, rng: np.random.Generator, at_least_one: bool = False) -> np.ndarray:
    """``n`` category codes in exact proportions (largest remainder), shuffled.

    With ``at_least_one`` every category gets one when ``n`` allows, so a small sample
    still shows every kind.
    """
    shares = np.asarray(shares, dtype=float)
    shares = shares / shares.sum()
    exact = shares * n
    counts = np.floor(exact).astype(int)
    rest = n - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    if at_least_one and n >= len(shares):
        for k in np.flatnonzero(counts == 0):
            donor = int(np.argmax(counts))
            counts[donor] -= 1
            counts[k] += 1
    codes = np.repeat(np.arange(len(shares)), counts)
    return rng.permutation(codes)


def _days(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _month_index(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start(months: np.ndarray) -> np.ndarray:
    return np.asarray(months).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _dates(days: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Day numbers → datetime64[ns], NaT where ``present`` is False."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    if present is not None:
        out = np.where(present, out, np.datetime64("NaT"))
    return out.astype("datetime64[ns]")


def _unique_draws(rng: np.random.Generator, n: int, low: int, high: int,
                  reject=None) -> np.ndarray:
    """``n`` distinct integers in [low, high), in draw order."""
    picked = np.empty(0, dtype=np.int64)
    while len(picked) < n:
        draw = rng.integers(low, high, size=int((n - len(picked)) * 1.1) + 16)
        if reject is not None:
            draw = draw[~reject(draw)]
        merged = np.concatenate([picked, draw])
        _, first = np.unique(merged, return_index=True)
        picked = merged[np.sort(first)]
    return picked[:n]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


def _check_digit(digits: np.ndarray, weights) -> np.ndarray:
    rest = (digits * np.asarray(weights)).sum(axis=1) % 11
    return np.where(rest < 2, 0, 11 - rest)


def _same_digits(values: np.ndarray) -> np.ndarray:
    # 111.111.111-xx and the like pass the arithmetic but the Receita rejects them.
    return values % 111_111_111 == 0


def cpf_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid CPFs, formatted ``123.456.789-09``."""
    base = _unique_draws(rng, n, 1_000_000, 999_999_999, reject=_same_digits)
    digits = _digits(base, 9)
    d1 = _check_digit(digits, range(10, 1, -1))
    d2 = _check_digit(np.column_stack([digits, d1]), range(11, 1, -1))
    full = base * 100 + d1 * 10 + d2
    return [f"{v // 10**8:03d}.{v // 10**5 % 1000:03d}.{v // 100 % 1000:03d}-{v % 100:02d}"
            for v in full.tolist()]


def cnpj_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid CNPJs of head offices (``/0001``), formatted."""
    root = _unique_draws(rng, n, 1_000_000, 99_999_999)
    digits = np.column_stack([_digits(root, 8), np.tile([0, 0, 0, 1], (n, 1))])
    d1 = _check_digit(digits, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    d2 = _check_digit(np.column_stack([digits, d1]), [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return [f"{r // 10**6:02d}.{r // 1000 % 1000:03d}.{r % 1000:03d}/0001-{a}{b}"
            for r, a, b in zip(root.tolist(), d1.tolist(), d2.tolist(), strict=True)]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _slug(text: str) -> str:
    return "".join(c for c in _ascii(text) if c.isalnum())


_PARTICLES = {"De": "de", "Da": "da", "Do": "do", "Das": "das", "Dos": "dos", "E": "e"}


def _tidy_bairro(name: str) -> str | None:
    """Faker's pt_BR bairros come from a big city; keep the ones a small town has."""
    words = name.split()
    if any(ch.isdigit() or ch == "ª" for ch in name) or len(words) > 3:
        return None
    if words[-1] in {"I", "Ii", "Iii", "Iv", "V"} or words[0] in {"Conjunto", "Morro", "Cdi"}:
        return None
    return " ".join(_PARTICLES.get(w, w) if i else w for i, w in enumerate(words))


# --------------------------------------------------------------------------- customers


@dataclass
class _People:
    """Per-customer arrays, in customer-id order (oldest contract first)."""

    behaviour: np.ndarray
    since_d: np.ndarray
    female: np.ndarray
    business: np.ndarray  # index into BUSINESS_KINDS, -1 for a household
    pj: np.ndarray
    fee: np.ndarray
    due_day: np.ndarray
    shock_d: np.ndarray  # first day of the shock (recent_shock), else a far future day
    spell_start_d: np.ndarray  # an earlier hardship spell (first day), else far future
    spell_end_d: np.ndarray  # the day it ended
    relief_mi: np.ndarray  # month of the earlier relief (relief_*), else -1
    late_newcomer: np.ndarray
    frame: pd.DataFrame  # the canonical customers table (contract_status filled later)
    first_name: np.ndarray
    person: np.ndarray  # the person who writes: the customer, or a company's owner
    trade_name: np.ndarray


def _faker(seed: int):
    from faker import Faker

    fake = Faker("pt_BR")
    fake.seed_instance(seed)
    return fake


def _name_pools(fake, data: dict) -> dict[str, list[str]]:
    skip = set(data["names"]["skip_surnames"])
    return {
        "female": list(dict.fromkeys(fake.first_name_female() for _ in range(400))),
        "male": list(dict.fromkeys(fake.first_name_male() for _ in range(400))),
        "surname": [s for s in dict.fromkeys(fake.last_name() for _ in range(800))
                    if s not in skip],
    }


def _neighbourhoods(fake, data: dict) -> list[tuple[str, list[str]]]:
    cities, taken = [], set()
    for city in data["region"]["cities"]:
        names: list[str] = ["Centro"]
        for _ in range(2000):
            if len(names) > city["neighbourhoods"]:
                break
            name = _tidy_bairro(fake.bairro())
            if name and name not in taken and name not in names:
                names.append(name)
        taken.update(names[1:])
        cities.append((city["name"], names))
    return cities


def _people(rng: np.random.Generator, fake, n: int, as_of: date, months: int) -> _People:
    data = _portfolio_data()
    as_of_d = _days(as_of)
    as_of_mi = int(_month_index(np.array([as_of_d]))[0])

    behaviour = _quota(n, BEHAVIOUR_SHARES, rng, at_least_one=True)

    # Contract start: most customers joined years ago (growing portfolio), newcomers in
    # the last half year; those with a past relief or a recent shock need history first.
    # The provider opened about 12 years before: the long tail spreads over its first years.
    tail = rng.exponential(34.0, n)
    months_back = 7 + np.where(tail > 140, rng.uniform(100, 140, n), tail)
    latest = max(3, min(16, months - 2))
    relief_back = rng.integers(min(6, latest - 1), latest, n)
    relief = np.isin(behaviour, (KEPT, BROKEN))
    months_back = np.where(relief, relief_back + 5 + np.minimum(rng.exponential(24.0, n),
                                                                 rng.uniform(80, 120, n)),
                           months_back)
    months_back = np.where(behaviour == SHOCK, months_back + 3, months_back)
    since_d = as_of_d - (months_back * 30.44).astype(np.int64)
    since_d = np.where(behaviour == NEW, as_of_d - rng.integers(45, 200, n), since_d)

    # Customer ids follow the contract date, as an ERP numbers them.
    order = np.argsort(since_d, kind="stable")
    behaviour, since_d, relief_back = behaviour[order], since_d[order], relief_back[order]
    relief = relief[order]

    female = rng.random(n) < 0.52
    is_business = rng.random(n) < 0.14
    kinds = list(data["business_kinds"])
    kind_codes = rng.choice(len(kinds), size=n, p=_normalise(data["business_kinds"].values()))
    business = np.where(is_business,
                        np.array([schema.BUSINESS_KINDS.index(k) for k in kinds])[kind_codes],
                        -1)
    # Two thirds of the small businesses have a CNPJ; the rest contract as a person (MEI-like).
    pj = is_business & (rng.random(n) < 0.66)

    pools = _name_pools(fake, data)
    adult = rng.random(n) < data["names"]["adult_share"]
    female_names = np.array(pools["female"] + data["names"]["female"], dtype=object)
    male_names = np.array(pools["male"] + data["names"]["male"], dtype=object)
    n_f, n_m = len(pools["female"]), len(pools["male"])
    f_pick = np.where(adult, n_f + rng.integers(0, len(data["names"]["female"]), n),
                      rng.integers(0, n_f, n))
    m_pick = np.where(adult, n_m + rng.integers(0, len(data["names"]["male"]), n),
                      rng.integers(0, n_m, n))
    first = np.where(female, female_names[f_pick], male_names[m_pick])
    surnames = np.array(pools["surname"], dtype=object)
    middle_i = rng.integers(0, len(surnames), n)
    last_i = rng.integers(0, len(surnames), n)
    with_middle = (rng.random(n) < 0.55) & (middle_i != last_i)
    person = np.where(with_middle, first + " " + surnames[middle_i] + " " + surnames[last_i],
                      first + " " + surnames[last_i])

    cities = _neighbourhoods(fake, data)
    city_code = rng.choice(len(cities), size=n, p=_normalise(
        c["share"] for c in data["region"]["cities"]))
    neighbourhood = np.empty(n, dtype=object)
    city = np.empty(n, dtype=object)
    for code, (city_name, names) in enumerate(cities):
        members = np.flatnonzero(city_code == code)
        weights = rng.dirichlet(np.full(len(names), 1.5))
        weights[0] += 0.25  # the town centre has more shops and flats
        neighbourhood[members] = np.array(names, dtype=object)[
            rng.choice(len(names), size=len(members), p=weights / weights.sum())]
        city[members] = city_name

    trade = _trade_names(rng, data, business, first, surnames[last_i], female, neighbourhood)
    documents = np.empty(n, dtype=object)
    documents[~pj] = cpf_numbers(rng, int((~pj).sum()))
    documents[pj] = cnpj_numbers(rng, int(pj.sum()))
    # A company's name is its razão social: "Trade Ltda." or, for an MEI, "NN.NNN.NNN Owner".
    mei = pj & (rng.random(n) < 0.4)
    name = person.copy()
    name[pj & ~mei] = trade[pj & ~mei] + " Ltda."
    root = np.array([d[:10] for d in documents[mei]], dtype=object)
    name[mei] = root + " " + person[mei]

    phone = _phones(rng, n, data["region"]["ddd"])
    email = _emails(rng, data, person, trade, pj)

    older = since_d < as_of_d - 4 * 365
    plans = data["plans"]
    plan_code = np.empty(n, dtype=np.int64)
    business_plan = pj | (is_business & (rng.random(n) < 0.3))
    for segment_mask, segment in ((business_plan, "business"), (~business_plan, "home")):
        codes = [i for i, p in enumerate(plans) if p["segment"] == segment]
        for era_mask, era in ((older, "older"), (~older, "recent")):
            members = np.flatnonzero(segment_mask & era_mask)
            weights = _normalise(plans[i][era] for i in codes)
            plan_code[members] = np.array(codes)[rng.choice(len(codes), len(members), p=weights)]
    plan_names = np.array([p["name"] for p in plans], dtype=object)[plan_code]
    fee = np.array([p["fee"] for p in plans])[plan_code]
    due_day = np.where(is_business, rng.choice(_DUE_DAYS, n, p=[0.2, 0.5, 0.2, 0.1]),
                       rng.choice(_DUE_DAYS, n, p=[0.3, 0.35, 0.2, 0.15]))

    shock_d = np.where(behaviour == SHOCK, as_of_d - rng.integers(50, 93, n), _NEVER * 10)
    # Earlier hardship spells: hard times do not all come in the same quarter. Some
    # punctual or sometimes-late customers had 2-4 bad months at any time of the history,
    # then paid as before. A stream of its own, so the rest of the sample is unchanged.
    spell_rng = np.random.default_rng([int(as_of_d), n, months, 12])
    spell = np.isin(behaviour, (PUNCTUAL, SOMETIMES)) & (spell_rng.random(n) < 0.14)
    spell_start_d = np.where(spell, as_of_d - spell_rng.integers(130, max(131, months * 30), n),
                             _NEVER * 10)
    spell_end_d = spell_start_d + spell_rng.integers(60, 125, n)
    relief_mi = np.where(relief, as_of_mi - relief_back, -1)
    late_newcomer = (behaviour == NEW) & (rng.random(n) < 0.35)

    ids = np.array([str(_FIRST_CUSTOMER_ID + i) for i in range(n)], dtype=object)
    frame = pd.DataFrame({
        "customer_id": ids,
        "name": name,
        "document": documents,
        "person_type": np.where(pj, "PJ", "PF").astype(object),
        "phone": phone,
        "email": email,
        "neighbourhood": neighbourhood,
        "city": city,
        "plan": plan_names,
        "monthly_fee": fee,
        "customer_since": _dates(since_d),
        "business_kind": np.where(business >= 0,
                                  np.array(schema.BUSINESS_KINDS, dtype=object)[business], ""),
        "contract_status": np.full(n, "active", dtype=object),
    })
    return _People(
        behaviour=behaviour, since_d=since_d, female=female, business=business, pj=pj,
        fee=fee, due_day=due_day, shock_d=shock_d, spell_start_d=spell_start_d,
        spell_end_d=spell_end_d, relief_mi=relief_mi,
        late_newcomer=late_newcomer, frame=frame, first_name=first, person=person,
        trade_name=trade,
    )


def _normalise(weights) -> np.ndarray:
    values = np.array(list(weights), dtype=float)
    return values / values.sum()


def _trade_names(rng, data, business, first, surname, female, neighbourhood) -> np.ndarray:
    trade = np.full(len(business), "", dtype=object)
    for i in np.flatnonzero(business >= 0).tolist():
        kind = schema.BUSINESS_KINDS[business[i]]
        variants = data["businesses"].get(kind) or data["businesses"]["outro"]
        pattern = variants[int(rng.integers(0, len(variants)))]
        short_first = first[i].split()[0]
        trade[i] = pattern.format(
            surname=surname[i], first=short_first, place=neighbourhood[i],
            de_first=("da " if female[i] else "do ") + short_first,
        )
    return trade


def _phones(rng: np.random.Generator, n: int, ddd: str) -> np.ndarray:
    # Mobile numbers: 9 + [6-9] + 7 digits, distinct.
    numbers = _unique_draws(rng, n, 60_000_000, 100_000_000)
    return np.array([f"({ddd}) 9{v // 10000:04d}-{v % 10000:04d}" for v in numbers.tolist()],
                    dtype=object)


def _emails(rng, data, person, trade, pj) -> np.ndarray:
    n = len(person)
    domains = np.array(data["mail"]["domains"], dtype=object)
    domain = domains[rng.choice(len(domains), n, p=_normalise(data["mail"]["weights"]))]
    has = rng.random(n) < np.where(pj, 0.95, 0.82)
    style = rng.integers(0, 4, n)
    number = rng.integers(1, 99, n)
    own_domain = pj & (rng.random(n) < 0.45)
    seen: dict[str, int] = {}
    out = np.full(n, "", dtype=object)
    for i in np.flatnonzero(has).tolist():
        if own_domain[i]:
            local, host = "contato", f"{_slug(trade[i])[:24]}.com.br"
        else:
            words = [_slug(w) for w in person[i].split()]
            base = _slug(trade[i])[:20] if pj[i] else ""
            if not base:
                base = (f"{words[0]}.{words[-1]}", f"{words[0]}{words[-1]}",
                        f"{words[0]}_{words[-1]}{number[i]}", f"{words[0]}{number[i]}")[style[i]]
            local, host = base, domain[i]
        address = f"{local}@{host}"
        if address in seen:
            seen[address] += 1
            address = f"{local}{seen[address]}@{host}"
        seen.setdefault(address, 1)
        out[i] = address
    return out


# --------------------------------------------------------------------------- invoices


def _invoices(rng: np.random.Generator, p: _People, as_of: date, months: int) -> pd.DataFrame:
    """Monthly bills (customers × months, vectorised) plus the bills of earlier reliefs."""
    n = len(p.behaviour)
    as_of_d = _days(as_of)
    as_of_mi = int(_month_index(np.array([as_of_d]))[0])
    cols = as_of_mi - months + np.arange(months + 2)  # due months covered by the grid
    width = len(cols)

    due = _month_start(cols)[None, :] + (p.due_day[:, None] - 1)
    start_mi = as_of_mi - months
    y, m = divmod(start_mi, 12)
    window_start = _days(date(1970 + y, m + 1, min(as_of.day, calendar.monthrange(1970 + y,
                                                                                 m + 1)[1])))
    first_due = p.since_d + 15  # the first bill falls due at least two weeks after install
    first_mi = _month_index(first_due) + (
        first_due - _month_start(_month_index(first_due)) + 1 > p.due_day)
    valid = ((due > window_start) & (due - _ISSUE_DAYS_BEFORE_DUE <= as_of_d)
             & (cols[None, :] >= first_mi[:, None]))

    # Payment parameters per cell, by behaviour and by when the bill fell due.
    params = np.array([_PAY[k] for k in (
        "punctual", "sometimes_late", "chronically_late", "punctual", "punctual",
        "before_relief", "before_relief")])
    cell = np.broadcast_to(params[p.behaviour][:, None, :], (n, width, 4)).copy()
    cell[p.late_newcomer] = _PAY["late_newcomer"]
    shocked = (due >= p.shock_d[:, None]) | ((due >= p.spell_start_d[:, None])
                                            & (due < p.spell_end_d[:, None]))
    cell[shocked] = _PAY["after_shock"]
    relief = p.relief_mi >= 0
    after = relief[:, None] & (cols[None, :] >= p.relief_mi[:, None])
    cell[after & (p.behaviour == KEPT)[:, None]] = _PAY["after_kept"]
    cell[after & (p.behaviour == BROKEN)[:, None]] = _PAY["after_broken"]
    # Customers differ within a behaviour.
    cell[..., 0] *= np.exp(rng.normal(0.0, 0.35, n))[:, None]
    p_late = np.minimum(cell[..., 0], 0.95)
    scale, p_unpaid, p_grace = cell[..., 1], cell[..., 2], cell[..., 3]

    shape = (n, width)
    late = rng.random(shape) < p_late
    grace = ~late & (rng.random(shape) < p_grace)
    early = np.where(rng.random(shape) < 0.35, 0, -rng.integers(1, 9, shape))
    delay = np.where(grace, rng.integers(1, 5, shape), early)
    delay = np.where(late, 6 + np.floor(rng.gamma(1.4, scale)).astype(np.int64), delay)
    unpaid = rng.random(shape) < p_unpaid
    # Most old debts get paid in the end, months late; some stay open.
    settled = unpaid & (due < as_of_d - 100) & (rng.random(shape) < 0.7) & ~after
    delay = np.where(settled, 45 + np.floor(rng.gamma(2.0, 20.0, shape)).astype(np.int64), delay)
    unpaid &= ~settled
    # An earlier hardship spell ended: its unpaid bills were paid late, one to three
    # months after their due date, before the spell's customer went back to normal.
    spell = ((due >= p.spell_start_d[:, None]) & (due < p.spell_end_d[:, None]))
    spell_rng = np.random.default_rng([int(as_of_d), n, months, 14])
    catch_up = 31 + np.floor(spell_rng.gamma(2.0, 12.0, shape)).astype(np.int64)
    catch_up = np.minimum(catch_up, np.maximum(as_of_d - 1 - due, 6))
    delay = np.where(spell & (unpaid | settled), catch_up, delay)
    unpaid &= ~spell

    # The bills an earlier relief replaced: left unpaid, then renegotiated.
    k_orig = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    renegotiated = (relief[:, None] & valid & (cols[None, :] < p.relief_mi[:, None])
                    & (cols[None, :] >= (p.relief_mi - k_orig)[:, None]))
    unpaid |= renegotiated
    delay = np.where(unpaid, _NEVER, delay)

    # Yearly price adjustment on the contract anniversary: older bills were cheaper.
    since_mi = _month_index(p.since_d)
    anniversary_mi = as_of_mi - (as_of_mi - since_mi) % 12
    anniversary = _month_start(anniversary_mi) + np.minimum(
        p.since_d - _month_start(since_mi), 27)
    anniversary = np.where(anniversary > as_of_d, anniversary - 365, anniversary)
    step = rng.choice([0.0, 5.0, 10.0], n, p=[0.4, 0.4, 0.2])
    steps = (due < anniversary[:, None]).astype(int) + (due < anniversary[:, None] - 365)
    amount = np.maximum(p.fee[:, None] - steps * step[:, None], np.minimum(p.fee, 49.90)[:, None])

    rows, col_i = np.nonzero(valid)
    frame = _bill_rows(
        rng, as_of_d, rows, due[rows, col_i], amount[rows, col_i], delay[rows, col_i],
        renegotiated[rows, col_i], arrangement=np.zeros(len(rows), dtype=np.int64),
        whole=spell[rows, col_i],
    )
    relief_frame, relief_day = _relief_bills(rng, p, due, valid, renegotiated, amount, as_of_d)
    # An original bill's notice went out before the relief, never after it.
    late_notice = frame["renegotiated"].to_numpy() & (
        frame["notice"].to_numpy() >= relief_day[frame["row"].to_numpy()])
    frame.loc[late_notice, "noticed"] = False
    bills = pd.concat([frame, relief_frame], ignore_index=True)
    return _invoice_table(bills, p, as_of_d)


def _bill_rows(rng, as_of_d, rows, due, amount, delay, renegotiated, arrangement,
               issued=None, whole=None) -> pd.DataFrame:
    """Statuses, payments and notices of bills, from their due dates and delays."""
    count = len(rows)
    issued = due - _ISSUE_DAYS_BEFORE_DUE if issued is None else issued
    paid_d = due + delay
    paid = paid_d <= as_of_d
    late_days = np.maximum(paid_d - due, 0)
    amount = np.round(amount, 2)
    with_fees = np.round(amount * (1 + np.where(late_days > 0, _LATE_FINE, 0.0)
                                   + late_days * _DAILY_INTEREST), 2)
    status = np.where(paid, 1, 0)
    amount_paid = np.where(paid, with_fees, np.nan)
    # Now and then a late payer pays only part of a bill.
    part = (rng.random(count) < 0.03) & paid & (late_days > 5) & (arrangement == 0)
    if whole is not None:  # bills paid in full (an earlier spell's catch-up)
        part &= ~whole
    overdue_open = ~paid & (due < as_of_d) & ~renegotiated
    part_open = overdue_open & (rng.random(count) < 0.05) & (delay < _NEVER)
    part_open_day = due + rng.integers(3, 20, count)
    part_open &= part_open_day <= as_of_d
    paid_d = np.where(part_open, part_open_day, paid_d)
    fraction = rng.uniform(0.3, 0.7, count)
    part |= part_open
    amount_paid = np.where(part, np.round(amount * fraction, 2), amount_paid)
    status = np.where(part, 2, status)
    # Cancelled by the provider (billing error, outage credit): a few, never a relief bill.
    cancelled = ((rng.random(count) < 0.003) & (due < as_of_d - 30) & ~renegotiated
                 & (arrangement == 0))
    status = np.where(cancelled, 3, status)
    status = np.where(renegotiated, 4, status)
    has_payment = (status == 1) | (status == 2)
    amount_paid = np.where(has_payment, amount_paid, np.nan)

    notice = np.busday_offset((due + _NOTICE_DAYS_AFTER_DUE).astype("datetime64[D]"), 0,
                              roll="forward").astype(np.int64)
    still_open = (status == 0) | (status == 2)
    noticed = (notice <= as_of_d) & ~cancelled & (
        still_open | renegotiated | ((status == 1) & (paid_d > notice)))
    return pd.DataFrame({
        "row": rows, "issued": issued, "due": due, "amount": amount,
        "paid_d": np.where(has_payment, paid_d, 0), "has_payment": has_payment,
        "amount_paid": amount_paid, "status": status, "notice": notice, "noticed": noticed,
        "arrangement": arrangement, "renegotiated": renegotiated,
    })


def _relief_bills(rng, p: _People, due, valid, renegotiated, amount, as_of_d):
    """The arrangement bills of earlier reliefs: discount, postponement or instalments."""
    n = len(p.behaviour)
    relief_day = np.full(n, _NEVER * 10, dtype=np.int64)
    who = np.flatnonzero(p.relief_mi >= 0)
    if len(who) == 0:
        none = np.empty(0, dtype=np.int64)
        return _bill_rows(rng, as_of_d, none, none, none.astype(float), none,
                          none.astype(bool), none), relief_day
    originals = renegotiated[who] & valid[who]
    total = np.where(originals, amount[who], 0.0).sum(axis=1)
    last_due = np.where(originals, due[who], 0).max(axis=1)
    day = last_due + rng.integers(12, 29, len(who))
    relief_day[who] = day
    kind = rng.choice([1, 2, 3], len(who), p=[0.3, 0.3, 0.4])  # schema.ARRANGEMENTS codes
    # A discount paid at signing is kept more often than a postponement: among the
    # single-bill agreements, a kept one was a discount 65 % of the time, a broken one
    # 35 %. (A stream of its own: the bills keep their dates and the sample its requests.)
    kept_one = p.behaviour[who] == KEPT
    swap_rng = np.random.default_rng([int(as_of_d), n, 15])
    single = kind < 3
    kind = np.where(single, np.where(swap_rng.random(len(who)) < np.where(kept_one, 0.65, 0.35),
                                     1, 2), kind)
    count = np.where(kind == 3, rng.integers(2, 5, len(who)), 1)
    slots = np.arange(4)[None, :]
    # A relief whose original bills fall before the window (a short --months) is left out.
    used = (slots < count[:, None]) & (total > 0)[:, None]
    percent = rng.choice([10, 15, 20], len(who))
    share = np.where(kind == 1, 1 - percent / 100, 1.0)
    each = np.floor(total * share / count * 100) / 100
    last = np.round(total * share - each * (count - 1), 2)
    bill_amount = np.where(slots == count[:, None] - 1, last[:, None], each[:, None])
    bill_due = np.select(
        [kind[:, None] == 1, kind[:, None] == 2],
        [day[:, None] + rng.integers(5, 11, len(who))[:, None],
         day[:, None] + rng.integers(15, 31, len(who))[:, None]],
        day[:, None] + 10 + 30 * slots,
    )
    kept = (p.behaviour[who] == KEPT)[:, None]
    shape = bill_amount.shape
    on_time = np.where(rng.random(shape) < 0.4, 0, -rng.integers(1, 6, shape))
    # A broken arrangement: the first bill maybe paid (late or not), the rest left open,
    # some paid months later.
    first_paid = (slots == 0) & (kind[:, None] == 3) & (rng.random(shape) < 0.6)
    late_paid = rng.random(shape) < 0.5
    broken_delay = np.where(late_paid, 30 + rng.integers(0, 120, shape), _NEVER)
    broken_delay = np.where(first_paid, np.where(rng.random(shape) < 0.5, on_time,
                                                 8 + rng.integers(0, 20, shape)), broken_delay)
    delay = np.where(kept, on_time, broken_delay)
    rows = np.broadcast_to(who[:, None], shape)[used]
    bills = _bill_rows(
        rng, as_of_d, rows, bill_due[used], bill_amount[used], delay[used],
        np.zeros(int(used.sum()), dtype=bool),
        arrangement=np.broadcast_to(kind[:, None], shape)[used],
        issued=np.broadcast_to(day[:, None], shape)[used],
    )
    return bills, relief_day


def _invoice_table(bills: pd.DataFrame, p: _People, as_of_d: int) -> pd.DataFrame:
    order = np.lexsort((bills["due"].to_numpy(), bills["row"].to_numpy(),
                        bills["issued"].to_numpy()))
    bills = bills.iloc[order].reset_index(drop=True)
    ids = np.arange(_FIRST_INVOICE_ID, _FIRST_INVOICE_ID + len(bills)).astype(str).astype(object)
    customer_ids = p.frame["customer_id"].to_numpy()[bills["row"].to_numpy()]
    return pd.DataFrame({
        "invoice_id": ids,
        "customer_id": customer_ids,
        "issued_on": _dates(bills["issued"].to_numpy()),
        "due_date": _dates(bills["due"].to_numpy()),
        "amount": bills["amount"].to_numpy(),
        "paid_on": _dates(bills["paid_d"].to_numpy(), bills["has_payment"].to_numpy()),
        "amount_paid": bills["amount_paid"].to_numpy(),
        "status": np.array(schema.INVOICE_STATUSES, dtype=object)[bills["status"].to_numpy()],
        "notified_on": _dates(bills["notice"].to_numpy(), bills["noticed"].to_numpy()),
        "arrangement": np.array(schema.ARRANGEMENTS, dtype=object)[
            bills["arrangement"].to_numpy()],
        "fine": np.full(len(bills), np.nan),  # the sample's ERP reports no fines
    })


def _contract_status(rng, customers: pd.DataFrame, invoices: pd.DataFrame, as_of_d: int
                     ) -> np.ndarray:
    """Blocked for non-payment once a notice is 15 days old (RGC art. 70), unless the
    provider gave a trust unblock ("desbloqueio de confiança")."""
    open_ = invoices["status"].isin(("open", "partial")).to_numpy()
    notice = invoices["notified_on"].to_numpy().astype("datetime64[D]").astype(np.int64)
    overdue = open_ & ~invoices["notified_on"].isna().to_numpy() & (notice + 15 <= as_of_d)
    index = pd.Index(customers["customer_id"])
    rows = index.get_indexer(invoices["customer_id"].to_numpy()[overdue])
    blocked = np.zeros(len(customers), dtype=bool)
    blocked[rows] = True
    trust = rng.random(len(customers)) < 0.2
    return np.where(blocked & ~trust, "blocked_financial", "active").astype(object)


def _date_changes(invoices: pd.DataFrame, p: _People, as_of: date) -> pd.DataFrame:
    """Due-date changes of the history: a punctual or sometimes-late customer asked, once,
    to move a bill to payday (the ERP edits the bill's due date and marks it). Most paid
    by the new date; a few did not. A stream of its own, applied after the requests were
    drawn, so the requests and their written texts are those of the same portfolio."""
    rng = np.random.default_rng([_days(as_of), len(p.behaviour), 16])
    customers = pd.Index(p.frame["customer_id"])
    row = customers.get_indexer(invoices["customer_id"])
    due = invoices["due_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    asked = np.isin(p.behaviour, (PUNCTUAL, SOMETIMES)) & (rng.random(len(p.behaviour)) < 0.08)
    eligible = (asked[row] & (invoices["status"].to_numpy() == "paid")
                & (invoices["arrangement"].to_numpy() == "") & (due < _days(as_of) - 90))
    # One bill per customer who asked: the first eligible one after a random offset.
    order = rng.permutation(len(invoices))
    picked = pd.Series(order[eligible[order]]).groupby(row[order[eligible[order]]]).first()
    if picked.empty:
        return invoices
    at = picked.to_numpy()
    out = invoices.copy()
    shift = rng.integers(7, 21, len(at))
    new_due = due[at] + shift
    paid = out["paid_on"].to_numpy().astype("datetime64[D]").astype(np.int64)[at]
    kept = rng.random(len(at)) < 0.92
    late_by = rng.integers(8, 40, len(at))
    new_paid = np.where(kept, np.minimum(paid, new_due), new_due + late_by)
    out.loc[at, "due_date"] = _dates(new_due)
    out.loc[at, "paid_on"] = _dates(new_paid)
    late_days = np.maximum(new_paid - new_due, 0)
    amount = out["amount"].to_numpy(float)[at]
    out.loc[at, "amount_paid"] = np.round(
        amount * (1 + np.where(late_days > 0, _LATE_FINE, 0.0) + late_days * _DAILY_INTEREST),
        2)
    out.loc[at, "notified_on"] = pd.NaT
    out.loc[at, "arrangement"] = "postponement"
    return out


# --------------------------------------------------------------------------- requests


def _requests(rng: np.random.Generator, text_seed: int, p: _People, invoices: pd.DataFrame,
              count: int, as_of: date, provider: Provider):
    from relief_kit.tools.sample import evidence as sample_evidence

    customers = p.frame
    n = len(customers)
    as_of_d = _days(as_of)
    count = min(count, n)
    rows_of = pd.Index(customers["customer_id"]).get_indexer(invoices["customer_id"])
    due = invoices["due_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    open_ = invoices["status"].isin(("open", "partial")).to_numpy()
    overdue = open_ & (due < as_of_d)
    first_overdue = np.full(n, _NEVER * 10, dtype=np.int64)
    np.minimum.at(first_overdue, rows_of[overdue], due[overdue])
    in_trouble = (first_overdue < _NEVER) | (p.behaviour == SHOCK)

    weight = np.select(
        [p.behaviour == SHOCK, p.behaviour == BROKEN, p.behaviour == CHRONIC],
        [5.0, 3.0, 2.0], 1.5) * np.where(p.business >= 0, 1.5, 1.0)
    calm = ~in_trouble & np.isin(p.behaviour, (PUNCTUAL, SOMETIMES, KEPT))
    pools = {
        TROUBLE: (np.flatnonzero(in_trouble), weight[in_trouble]),
        FIRST_TIME: (np.flatnonzero(calm & (p.behaviour == PUNCTUAL)), None),
        OPPORTUNIST: (np.flatnonzero(calm), None),
    }
    wanted = dict(zip(_GROUP_SHARES, np.bincount(
        _quota(count, list(_GROUP_SHARES.values()), rng, at_least_one=True),
        minlength=3).tolist(), strict=True))
    chosen: list[int] = []
    groups: list[str] = []
    spare = 0
    for group, (pool, w) in pools.items():
        pool_mask = ~np.isin(pool, chosen)
        pool = pool[pool_mask]
        take = min(wanted[group] + spare, len(pool))
        spare = wanted[group] + spare - take
        if take:
            probs = None if w is None else w[pool_mask] / w[pool_mask].sum()
            picked = rng.choice(pool, size=take, replace=False, p=probs)
            chosen.extend(picked.tolist())
            groups.extend([group] * take)
    if spare:  # a tiny portfolio: anyone not yet chosen
        rest = np.setdiff1d(np.arange(n), chosen)
        picked = rng.choice(rest, size=min(spare, len(rest)), replace=False)
        chosen.extend(picked.tolist())
        groups.extend([OPPORTUNIST] * len(picked))
    chosen_a = np.array(chosen, dtype=np.int64)
    k = len(chosen_a)

    # When: the last three months; not before the trouble showed.
    anchor = np.minimum(first_overdue[chosen_a],
                        np.where(p.behaviour[chosen_a] == SHOCK, p.shock_d[chosen_a], _NEVER))
    low = np.maximum(as_of_d - 92, np.where(anchor < _NEVER, anchor + 2, 0))
    low = np.minimum(low, as_of_d - 3)
    day = low + np.floor(rng.random(k) * (as_of_d - low)).astype(np.int64)

    channel_names = list(_CHANNEL_SHARES)
    channel = _quota(k, list(_CHANNEL_SHARES.values()), rng, at_least_one=True)
    has_email = (customers["email"].to_numpy()[chosen_a] != "")
    # Someone without e-mail writes on WhatsApp instead: swap channels with a customer who has one.
    email_code = channel_names.index("email")
    for i in np.flatnonzero((channel == email_code) & ~has_email).tolist():
        swap = np.flatnonzero((channel != email_code) & has_email)
        if len(swap):
            j = int(swap[0])
            channel[i], channel[j] = channel[j], channel[i]
        else:
            channel[i] = channel_names.index("whatsapp")
    channel_of = np.array(channel_names, dtype=object)[channel]

    # Written evidence: always for WhatsApp and e-mail, for some calls and visits a
    # follow-up in writing.
    spoken = np.isin(channel_of, ("phone", "in_person"))
    follow_up = spoken & (rng.random(k) < 0.4)
    evidence_kind = np.where(channel_of == "email", "email",
                             np.where(channel_of == "whatsapp", "whatsapp", ""))
    follow_kind = np.where(has_email & (rng.random(k) < 0.3), "email", "whatsapp")
    evidence_kind = np.where(follow_up, follow_kind, evidence_kind).astype(object)
    whatsapp = np.flatnonzero(evidence_kind == "whatsapp")
    layout = np.full(k, "", dtype=object)
    layout[whatsapp] = np.array(["android", "ios"], dtype=object)[
        _quota(len(whatsapp), [0.5, 0.5], rng, at_least_one=True)]
    emails = np.flatnonzero(evidence_kind == "email")
    layout[emails] = np.array(list(_EMAIL_STYLES), dtype=object)[
        _quota(len(emails), list(_EMAIL_STYLES.values()), rng, at_least_one=True)]

    # Time of day: messages at any waking hour, calls and visits in business hours.
    hour = np.where(spoken & ~follow_up, rng.integers(8, 18, k),
                    rng.choice(np.arange(7, 24), k, p=_normalise(
                        [2, 4, 5, 5, 4, 3, 3, 4, 4, 4, 4, 4, 5, 6, 7, 6, 4])))
    weekday = (day + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    day = np.where(spoken & (weekday == 6), day - 1, day)  # the shop is closed on Sundays
    received = [datetime(1970, 1, 1) + timedelta(days=int(d), hours=int(h),
                                                  minutes=int(mi), seconds=int(s))
                for d, h, mi, s in zip(day, hour, rng.integers(0, 60, k), rng.integers(0, 60, k),
                                       strict=True)]
    # An Android export shows minutes only: the request's time is the message's.
    received = [r.replace(second=0) if lay == "android" and ch == "whatsapp" else r
                for r, lay, ch in zip(received, layout, channel_of, strict=True)]
    order = sorted(range(k), key=lambda i: (received[i], chosen[i]))

    situations = np.array(list(_HOUSEHOLD_SITUATIONS), dtype=object)[
        rng.choice(len(_HOUSEHOLD_SITUATIONS), k, p=_normalise(_HOUSEHOLD_SITUATIONS.values()))]
    business = p.business[chosen_a] >= 0
    situations = np.where(business & (rng.random(k) < 0.6), "business_down", situations)
    group_of = np.array(groups, dtype=object)
    situations = np.where(group_of == OPPORTUNIST, "opportunist", situations)

    asks = np.empty(k, dtype=object)
    for group, options in (
        (TROUBLE, {"discount": 0.2, "new_date": 0.3, "instalments": 0.3, "not_said": 0.2}),
        (FIRST_TIME, {"discount": 0.25, "new_date": 0.45, "instalments": 0.1, "not_said": 0.2}),
        (OPPORTUNIST, {"discount": 0.8, "new_date": 0.0, "instalments": 0.0, "not_said": 0.2}),
    ):
        members = group_of == group
        asks[members] = np.array(list(options), dtype=object)[
            rng.choice(len(options), int(members.sum()), p=_normalise(options.values()))]

    household = ~p.pj[chosen_a]
    volunteers = household & (rng.random(k) < np.where(group_of == OPPORTUNIST, 0.05, 0.3))
    category = np.where(volunteers, np.array(list(_AT_RISK_SHARES), dtype=object)[
        rng.choice(len(_AT_RISK_SHARES), k, p=_normalise(_AT_RISK_SHARES.values()))], "")
    consent = volunteers & (rng.random(k) < 0.85)
    # The intake asks every written request both questions; a call or a visit is often
    # noted down before anyone asked them.
    written = evidence_kind != ""
    not_at_risk = ~volunteers & (rng.random(k) < np.where(written, 0.75, 0.3))
    known = rng.random(k) < np.where(written, 0.85, 0.4)
    small_business = np.where(known, business, None)

    text_rng = random.Random(text_seed)
    fragments = sample_evidence.load_fragments()
    records: list[dict] = []
    evidence: dict[str, bytes] = {}
    situation_of: dict[str, str] = {}
    sorted_rows = np.argsort(rows_of, kind="stable")
    starts = np.searchsorted(rows_of[sorted_rows], np.arange(n + 1))
    # Service protocol numbers (Anatel): one sequence for every contact, so they skip.
    protocols = 3_000 + np.cumsum(rng.integers(20, 400, max(k, 1)))
    # The hardship intake (what happened, since when, what they can pay): a stream of its
    # own, so the rest of the sample (and every written request) stays as it was. A
    # written request usually says what happened; a call is often noted down before
    # anyone asked; an opportunist states no difficulty, or is not asked yet.
    intake_rng = np.random.default_rng([int(as_of_d), n, count, 13])
    # What the customer says they can pay: a stream of its own again, two draws a
    # request, so the intake's other answers stay as they were.
    capacity_rng = np.random.default_rng([int(as_of_d), n, count, 17])
    for seq, i in enumerate(order, start=1):
        row = chosen[i]
        request_id = f"R{seq:04d}"
        moment = received[i]
        bills = invoices.iloc[sorted_rows[starts[row]:starts[row + 1]]]
        protocol = f"{moment:%Y}{protocols[seq - 1]:06d}"
        facts = _facts(rng, p, row, bills, moment, request_id, protocol, asks[i],
                       situations[i], group_of[i], category[i], bool(consent[i]),
                       evidence_kind[i], layout[i], channel_of[i])
        if facts.evidence_kind:
            path, data = sample_evidence.render(facts, fragments, provider, text_rng)
            evidence[path] = data
            evidence_file = path
        else:
            evidence_file = ""
        situation_of[request_id] = situations[i]
        hardship, since = _hardship_intake(intake_rng, facts, situations[i])
        capacity = _stated_capacity(capacity_rng.random(2), hardship, facts.debt,
                                    float(p.fee[row]))
        records.append({
            "request_id": request_id,
            "customer_id": customers["customer_id"].iat[row],
            "received_at": moment,
            "channel": channel_of[i],
            "asked": asks[i],
            "evidence_file": evidence_file,
            "small_business": small_business[i],
            "at_risk": True if volunteers[i] else (False if not_at_risk[i] else None),
            "at_risk_category": category[i],
            "at_risk_consent": True if consent[i] else None,
            "proposed_date": facts.proposed_date,
            "proposed_amount": facts.proposed_amount,
            "hardship": hardship,
            "hardship_since": since,
            "capacity_monthly": capacity,
        })
    frame = pd.DataFrame(records, columns=schema.column_names(schema.REQUESTS))
    frame["hardship_since"] = pd.to_datetime(frame["hardship_since"]).astype("datetime64[ns]")
    frame["capacity_monthly"] = frame["capacity_monthly"].astype(float)
    frame["received_at"] = pd.to_datetime(frame["received_at"]).astype("datetime64[ns]")
    frame["proposed_date"] = pd.to_datetime(frame["proposed_date"]).astype("datetime64[ns]")
    frame["proposed_amount"] = frame["proposed_amount"].astype(float)
    for column in ("small_business", "at_risk", "at_risk_consent"):
        frame[column] = frame[column].astype("boolean")  # as tables.read_table gives them
    return frame, evidence, pd.Series(situation_of, name="situation", dtype=object)


def _hardship_intake(rng: np.random.Generator, facts, situation: str):
    """The intake's hardship columns for one request: (category, since)."""
    written = bool(facts.evidence_kind)
    asked = rng.random() < (0.85 if written else 0.4)
    if not asked:
        return "", None
    hardship = _HARDSHIP_OF.get(situation, "other")
    if hardship == "none" and rng.random() < 0.5:
        return "", None  # the opportunist dodged the question: still to ask
    since = facts.trouble_began if hardship != "none" else None
    return hardship, since


def _stated_capacity(draws: np.ndarray, hardship: str, debt: float, fee: float
                     ) -> float | None:
    """What the customer says they can pay a month (R$, a round ten, at least R$ 20), or
    None: stated with the chance of :data:`_CAPACITY_STATED` for the ``hardship`` and the
    ``debt`` open at the request (R$) against the monthly ``fee`` (R$); half to a little
    over one fee. ``draws``: two uniforms in [0, 1) — whether, and how much."""
    if hardship in ("", "none"):
        return None
    depth = "several" if debt >= 1.5 * fee else "one" if debt > 0 else "none"
    if draws[0] >= _CAPACITY_STATED[(hardship in _INCOME_HARDSHIPS, depth)]:
        return None
    return float(max(10 * round(fee * (0.5 + 0.6 * draws[1]) / 10), 20.0))


def _facts(rng, p: _People, row: int, bills: pd.DataFrame, moment: datetime, request_id: str,
           protocol: str, asked: str, situation: str, group: str, category: str,
           consent: bool, evidence_kind: str, layout: str, channel: str):
    """What the customer's message can truthfully say, from their own bills."""
    from relief_kit.tools.sample.evidence import RequestFacts

    customers = p.frame
    today = moment.date()
    today_d = _days(today)
    due = bills["due_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    paid = bills["paid_on"].to_numpy().astype("datetime64[D]")
    unpaid = np.isnat(paid)
    paid_d = np.where(unpaid, _NEVER * 10, paid.astype(np.int64))
    status = bills["status"].to_numpy()
    ordinary = (bills["arrangement"].to_numpy() == "") & (status != "cancelled")
    behind = ordinary & (status != "renegotiated") & (due < today_d) & (paid_d > today_d)
    amounts = bills["amount"].to_numpy()
    open_bills = tuple((date(1970, 1, 1) + timedelta(days=int(d)), round(float(a), 2))
                       for d, a in zip(due[behind], amounts[behind], strict=True))
    debt = round(sum(a for _, a in open_bills), 2)
    upcoming = due[due >= today_d]
    next_due = (date(1970, 1, 1) + timedelta(days=int(upcoming.min())) if len(upcoming)
                else today + timedelta(days=20))
    past = ordinary & (due < today_d)
    on_time = past & (paid_d <= due + 5)
    good_record = bool(past.sum() >= 3 and on_time.sum() >= 0.85 * past.sum())

    proposed_date = None
    proposed_amount = None
    if asked in ("new_date", "instalments") and rng.random() < (
            0.75 if asked == "new_date" else 0.4):
        payday = int(rng.choice([5, 10, 15, 20, 25]))
        if payday > today.day + 3:
            proposed_date = today.replace(day=payday)
        else:
            proposed_date = (today.replace(day=1) + timedelta(days=32)).replace(day=payday)
    if asked == "discount" and rng.random() < 0.55:
        base = debt or float(p.fee[row])
        proposed_amount = float(max(5 * np.floor(base * rng.uniform(0.6, 0.85) / 5), 20.0))
    first = str(p.first_name[row])
    if " " in first and rng.random() < 0.7:
        first = first.split()[0]  # "Maria Aparecida" signs "Maria" more often than not
    if p.behaviour[row] == SHOCK:
        trouble_began = date(1970, 1, 1) + timedelta(days=int(min(p.shock_d[row], today_d)))
    else:
        trouble_began = open_bills[0][0] if open_bills else today
    return RequestFacts(
        request_id=request_id,
        protocol=protocol,
        received_at=moment,
        channel=channel,
        evidence_kind=evidence_kind,
        layout=layout,
        asked=asked,
        situation=situation,
        group=group,
        good_record=good_record,
        at_risk_category=category,
        consent=consent,
        customer_id=str(customers["customer_id"].iat[row]),
        name=str(p.person[row]),
        first_name=first,
        female=bool(p.female[row]),
        document=str(customers["document"].iat[row]),
        phone=str(customers["phone"].iat[row]),
        email=str(customers["email"].iat[row]),
        neighbourhood=str(customers["neighbourhood"].iat[row]),
        plan=str(customers["plan"].iat[row]),
        years=max(0, (today_d - int(p.since_d[row])) // 365),
        months=max(0, (today_d - int(p.since_d[row])) // 30),
        business_kind=str(customers["business_kind"].iat[row]),
        trade_name=str(p.trade_name[row]),
        company=bool(p.pj[row]),
        open_bills=open_bills,
        debt=debt,
        next_due=next_due,
        trouble_began=trouble_began,
        proposed_date=proposed_date,
        proposed_amount=proposed_amount,
        instalments=int(rng.integers(2, 5)),
    )


# --------------------------------------------------------------------------- public API


def generate(customers: int = 300, months: int = 24, requests: int = 40, seed: int = 7, *,
             as_of: date, provider: Provider | None = None) -> SamplePortfolio:
    """A synthetic portfolio as of ``as_of`` (the day it was "exported").

    Pure apart from reading the bundled templates: the same arguments give the same
    tables and the same evidence bytes. ``provider`` (default: the bundled
    ``data/settings.toml``) names the provider in the chats and e-mails.
    """
    if customers < 1 or months < 1 or requests < 0:
        raise InputError("sample: --customers e --months devem ser pelo menos 1, "
                         "--requests pelo menos 0.")
    if provider is None:
        from relief_kit.core.settings import load_provider

        provider = load_provider()
    people_seq, bills_seq, requests_seq, text_seq, faker_seq = np.random.SeedSequence(
        seed).spawn(5)
    fake = _faker(int(faker_seq.generate_state(1)[0]))
    people = _people(np.random.default_rng(people_seq), fake, customers, as_of, months)
    invoices = _invoices(np.random.default_rng(bills_seq), people, as_of, months)
    request_rng = np.random.default_rng(requests_seq)
    people.frame["contract_status"] = _contract_status(
        request_rng, people.frame, invoices, _days(as_of))
    request_frame, evidence, situations = _requests(
        request_rng, int(text_seq.generate_state(1)[0]), people, invoices, requests, as_of,
        provider)
    invoices = _date_changes(invoices, people, as_of)
    behaviours = pd.Series(np.array(BEHAVIOURS, dtype=object)[people.behaviour],
                           index=people.frame["customer_id"].to_numpy(), name="behaviour")
    return SamplePortfolio(
        customers=people.frame,
        invoices=invoices,
        requests=request_frame,
        evidence=evidence,
        as_of=as_of,
        behaviours=behaviours,
        situations=situations,
        parameters={"customers": customers, "months": months, "requests": requests,
                    "seed": seed},
    )


def describe(portfolio: SamplePortfolio) -> list[str]:
    """What a portfolio holds, in a few Portuguese lines for the command's output."""
    from relief_kit.text.formatting import day, number

    def count(value: int) -> str:
        return number(value, 0)

    customers, invoices, requests = portfolio.customers, portfolio.invoices, portfolio.requests
    businesses = int((customers["business_kind"] != "").sum())
    companies = int((customers["person_type"] == "PJ").sum())
    open_bills = int(invoices["status"].isin(("open", "partial")).sum())
    channels = requests["channel"].value_counts()
    channel_text = ", ".join(f"{count(int(channels.get(c, 0)))} {label}" for c, label in (
        ("whatsapp", "WhatsApp"), ("email", "e-mail"), ("phone", "telefone"),
        ("in_person", "presencial")))
    chats = [name for name in portfolio.evidence if name.endswith(".txt")]
    ios = sum(1 for name in chats if name.endswith("_chat.txt"))
    emails = len(portfolio.evidence) - len(chats)
    undocumented = int((requests["evidence_file"] == "").sum())
    p = portfolio.parameters
    return [
        f"Carteira sintética (dados fictícios), data de referência {day(portfolio.as_of)}, "
        f"semente {p.get('seed', '?')}:",
        f"  {schema.CUSTOMERS:<14} {count(len(customers))} clientes ({count(businesses)} "
        f"pequenos negócios, {count(companies)} com CNPJ)",
        f"  {schema.INVOICES:<14} {count(len(invoices))} faturas de até {p.get('months', '?')} "
        f"meses ({count(open_bills)} em aberto)",
        f"  {schema.REQUESTS:<14} {count(len(requests))} pedidos: {channel_text}; "
        f"{count(undocumented)} sem registro escrito",
        f"  {schema.EVIDENCE_DIR + '/':<14} {count(len(portfolio.evidence))} arquivos: "
        f"{count(len(chats))} conversas do WhatsApp ({count(len(chats) - ios)} Android, "
        f"{count(ios)} iPhone), {count(emails)} e-mails",
        f"  {schema.FOLDER_INFO:<14} as_of = {portfolio.as_of.isoformat()}, "
        f'source = "{SOURCE}"',
    ]


def previous_sample(folder: Path) -> bool:
    """True when ``folder`` was written by ``relief-kit sample``."""
    try:
        info = tomllib.loads((folder / schema.FOLDER_INFO).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return info.get("source") == SOURCE


def check_sample_destination(folder: Path) -> None:
    """Refuse a folder that holds anything but an earlier sample: it may be real data."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: existe e não é uma pasta; escolha outra.")
    if folder.is_dir() and any(folder.iterdir()) and not previous_sample(folder):
        raise InputError(
            f"{folder}: a pasta não está vazia e não é uma amostra anterior (sem export.toml "
            'com source = "sample"); escolha uma pasta nova ou vazia.')


def _folder_info(portfolio: SamplePortfolio) -> str:
    options = " ".join(f"--{k} {v}" for k, v in portfolio.parameters.items())
    return (
        "# Carteira sintética (dados fictícios) gerada por:\n"
        f"# relief-kit sample DIR {options} --today {portfolio.as_of.isoformat()}\n"
        f"as_of = {portfolio.as_of.isoformat()}\n"
        f'source = "{SOURCE}"\n'
    )


def write_sample(folder: str | Path, portfolio: SamplePortfolio) -> list[Path]:
    """Write the tables, the evidence files and ``export.toml`` into ``folder``.

    The folder must be new, empty or an earlier sample (whose tables and evidence are
    replaced; anything else in it, such as a case store, is left alone). Files are
    written aside and moved in, so an interrupted run leaves the old sample or the new.
    """
    from relief_kit.sources.tables import write_table

    folder = Path(folder)
    check_sample_destination(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sample-", dir=folder))
    written: list[Path] = []
    try:
        write_table(portfolio.customers, staging, schema.CUSTOMERS)
        write_table(portfolio.invoices, staging, schema.INVOICES)
        requests = portfolio.requests.copy()
        for column in requests.columns[requests.dtypes == "boolean"]:
            # Plain True/False/None, which write_table spells "sim"/"não"/"".
            requests[column] = requests[column].astype(object).where(
                requests[column].notna(), None).map(lambda v: None if v is None else bool(v))
        write_table(requests, staging, schema.REQUESTS)
        for relative, data in sorted(portfolio.evidence.items()):
            path = staging / schema.EVIDENCE_DIR / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (staging / schema.EVIDENCE_DIR).mkdir(exist_ok=True)
        (staging / schema.FOLDER_INFO).write_text(_folder_info(portfolio), encoding="utf-8")
        old_evidence = folder / schema.EVIDENCE_DIR
        if old_evidence.is_dir():
            shutil.rmtree(old_evidence)
        for name in (schema.CUSTOMERS, schema.INVOICES, schema.REQUESTS, schema.EVIDENCE_DIR,
                     schema.FOLDER_INFO):
            os.replace(staging / name, folder / name)
            written.append(folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
