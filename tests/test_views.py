import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from IPython.core.interactiveshell import InteractiveShell

from relief_kit.core.criteria import load_criteria
from relief_kit.core.documents import format_phone, mask_document, mask_phone
from relief_kit.core.errors import InputError
from relief_kit.core.model import Action, Terms
from relief_kit.shell import charts, views
from relief_kit.shell.case import open_case
from relief_kit.store.cases import DecisionDraft, open_store
from relief_kit.text import labels
from tests.case_folder import (
    EMAIL_REQUEST,
    HOSTILE,
    UNWRITTEN_REQUEST,
    WHATSAPP_REQUEST,
    evidence_of,
    make_hostile,
    sample_copy,
)


@pytest.fixture
def folder(tmp_path):
    return sample_copy(tmp_path)


@pytest.fixture
def hostile_case(folder):
    make_hostile(folder)
    return open_case(folder, WHATSAPP_REQUEST)


def every_fragment(case) -> str:
    return "".join(str(f) for f in (
        views.case_header(case), views.customer_card(case), views.customer_card(case, True),
        views.history_section(case), views.written_request(case),
        views.regulatory_section(case), views.record_sections(case),
        views.decision_history(case), views.chart_html(case)))


def test_customer_text_reaches_the_page_escaped_never_as_markup_or_template(hostile_case):
    html = every_fragment(hostile_case)
    assert "<script>" not in html and "<b>negrito</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;negrito&lt;/b&gt;" in html  # the WhatsApp message, as typed
    assert "&lt;/script&gt; {{ 7*7 }}" in html and "&lt;/script&gt; 49" not in html
    name = str(views.customer_card(hostile_case))
    assert "Maria &lt;script&gt;" in name


def test_email_headers_and_body_are_escaped(folder):
    eml = evidence_of(folder, EMAIL_REQUEST)
    data = eml.read_bytes().replace(b"Subject: ", f"Subject: {HOSTILE} ".encode(), 1)
    eml.write_bytes(data)
    html = str(views.written_request(open_case(folder, EMAIL_REQUEST)))
    assert "<script>" not in html
    assert "Assunto" in html and "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}" in html


def test_pages_load_nothing_from_the_network(hostile_case):
    html = every_fragment(hostile_case)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "<script" not in html.lower()
    assert "@import" not in html and "url(" not in html


def test_document_and_phone_are_masked_unless_revealed(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    masked, revealed = str(views.customer_card(case)), str(views.customer_card(case, True))
    customer = case.customer
    assert mask_document(customer.document) in masked
    assert mask_phone(customer.phone) in masked
    assert customer.document not in masked and format_phone(customer.phone) not in masked
    assert customer.document in revealed and format_phone(customer.phone) in revealed
    assert "mascarados" in masked and "mascarados" not in revealed


def test_history_is_in_portuguese_with_reais_and_brazilian_dates(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    html = str(views.history_section(case))
    assert "Histórico de pagamentos" in html and "Pontualidade" in html
    first_due = case.history["due_date"].iloc[0].date()
    assert first_due.strftime("%d/%m/%Y") in html
    assert re.search(r"R\$ \d{1,3}(\.\d{3})*,\d{2}", html)
    assert "paga em dia" in html


def test_whatsapp_bubbles_tell_the_customer_from_the_provider(folder):
    html = str(views.written_request(open_case(folder, WHATSAPP_REQUEST)))
    assert "rk-msg-customer" in html and "rk-msg-provider" in html
    provider = re.search(r'rk-msg-provider">\s*<div class="rk-msg-meta"><span '
                         r'class="rk-msg-author">([^<]+)<', html)
    assert provider.group(1) == "NetVale Atendimento"


def test_request_without_writing_says_the_practice_asks_for_it(folder):
    html = str(views.written_request(open_case(folder, UNWRITTEN_REQUEST)))
    assert "não tem registro por escrito" in html


def test_regulatory_section_states_the_earliest_suspension(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    html = str(views.regulatory_section(case))
    if case.regulatory.acts:
        assert case.regulatory.suspension.strftime("%d/%m/%Y") in html
        assert case.regulatory.acts[0].article in html
    else:
        assert "nenhum prazo de suspensão corre" in html
    assert "Fundamentos" in html


def test_recommendation_panel_names_criteria_with_their_keys_and_prices_every_option(folder):
    case = open_case(folder, EMAIL_REQUEST)
    rec = case.recommendation
    html = str(views.recommendation_panel(rec, case))
    assert f'data-action="{rec.action.value}"' in html
    assert labels.action(rec.action) in html
    for reason in (r for r in rec.reasons if r.criterion):
        assert (f"(critério: {labels.criterion(reason.criterion)} <code title=\"chave no "
                f"arquivo de critérios\">{reason.criterion}</code>)") in html
    for option in rec.options:
        assert labels.action(option.action) in html
    assert html.count('class="rk-chosen') == 1
    assert "descontado ao custo do dinheiro" in html and "Chances de pagamento" in html
    assert "Eventos de cada opção" in html and "Margem perdida" in html
    assert "Qualidade do modelo de pagamento (fora do período)" in html
    assert "Taxas por faixa de pontualidade" in html
    for label in ("boa pontualidade", "pontualidade fraca", "cliente novo"):
        assert f"<td>{label}</td>" in html
    assert rec.criteria_version in html


def test_record_shows_answers_then_the_decision_and_keeps_earlier_ones(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    assert "Nenhuma decisão registrada" in str(views.answers_and_decision(case))
    store, criteria = open_store(folder), load_criteria()
    amount = Decimal("149.90")
    first = store.record_decision(
        WHATSAPP_REQUEST,
        DecisionDraft(Action.POSTPONEMENT, Terms(amount=amount, new_due_date=date(2026, 12, 5)),
                      "Pediu prazo até o salário.", "Ana"),
        criteria, checklist=case.checklist, expected_previous=None,
        now=datetime(2026, 11, 20, 9, 30))
    store.record_decision(
        WHATSAPP_REQUEST,
        DecisionDraft(Action.DISCOUNT, Terms(amount=amount, discount_percent=Decimal("10"),
                                             pay_by=date(2026, 11, 30)),
                      "Preferiu pagar com desconto.", "Bia"),
        criteria, checklist=case.checklist, expected_previous=first.decision_id,
        now=datetime(2026, 11, 21, 16, 5))
    html = str(views.answers_and_decision(open_case(folder, WHATSAPP_REQUEST)))
    latest, earlier = html.split("Decisões anteriores")
    assert "Desconto para pagamento no mês" in latest and "Bia" in latest
    assert "21/11/2026 16:05" in latest and "30/11/2026" in latest
    assert "Adiamento do vencimento" in earlier and "05/12/2026" in earlier
    assert "Pedido explicado por escrito" in html and "O que aconteceu" in html
    assert "Quanto diz poder pagar por mês" in html


def svg_bills(svg: str) -> list[dict]:
    """The bills as the chart states them: each bar's data- attributes."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(svg)
    namespace = "{http://www.w3.org/2000/svg}"
    return [{"due": g.get("data-due"), "amount": g.get("data-amount"),
             "days_late": int(g.get("data-days-late")), "state": g.get("data-state"),
             "heights": [float(r.get("height")) for r in g.iter(f"{namespace}rect")]}
            for g in root.iter(f"{namespace}g") if g.get("class") == "rk-bill"]


def test_payment_chart_svg_shows_every_bill_with_its_amount_lateness_and_state(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    svg = charts.payment_chart_svg(case.history, grace_days=5, as_of=case.today)
    drawn = svg_bills(svg)
    bills = case.invoices.sort_values("due_date", kind="stable")
    assert [b["due"] for b in drawn] == [d.strftime("%Y-%m-%d") for d in bills["due_date"]]
    assert [b["amount"] for b in drawn] == [f"{a:.2f}" for a in bills["amount"]]
    assert [b["days_late"] for b in drawn] == case.history["days_late"].tolist()
    assert [b["state"] for b in drawn] == case.history["state"].tolist()
    # Bar heights are proportional to the amounts and to the days late.
    amounts = [float(b["amount"]) for b in drawn]
    scale = drawn[0]["heights"][0] / amounts[0]
    assert all(abs(b["heights"][0] - a * scale) < 0.02 for b, a in zip(drawn, amounts, strict=True))
    late = [b for b in drawn if b["days_late"]]
    assert all(len(b["heights"]) == 2 for b in late)
    if len(late) > 1:
        per_day = late[0]["heights"][1] / late[0]["days_late"]
        assert all(abs(b["heights"][1] - b["days_late"] * per_day) < 0.02 for b in late)


def test_payment_chart_labels_are_portuguese_with_brazilian_dates(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    svg = charts.payment_chart_svg(case.history, grace_days=5, as_of=case.today)
    assert "Valor da fatura (R$)" in svg and "Dias de atraso" in svg
    assert "tolerância: 5 dias" in svg
    labels = re.findall(r'rotate\(-60\)">([^<]+)<', svg)
    assert labels and all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", t) for t in labels)
    assert labels[-1] == case.history["due_date"].iloc[-1].strftime("%d/%m/%Y")
    assert "<script" not in svg and "href" not in svg


def test_a_hundred_bills_get_at_most_eighteen_date_labels(folder):
    import pandas as pd

    case = open_case(folder, WHATSAPP_REQUEST)
    history = pd.concat([case.history] * 5, ignore_index=True)
    svg = charts.payment_chart_svg(history, grace_days=5)
    assert len(svg_bills(svg)) == len(history)
    labels = re.findall(r'rotate\(-60\)">([^<]+)<', svg)
    assert 0 < len(labels) <= 18


def test_payment_chart_of_a_customer_without_bills_says_so(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    svg = charts.payment_chart_svg(case.history.iloc[0:0])
    assert "Nenhuma fatura" in svg and svg_bills(svg) == []


def test_review_and_record_show_the_same_chart(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    assert str(views.payment_chart(case)) == str(views.chart_html(case))
    assert svg_bills(str(views.payment_chart(case)).split(">", 1)[1].rsplit("</div>", 1)[0])


def test_fragment_shows_as_html_only_and_keeps_markup_out_of_plain_text(folder):
    fragment = views.customer_card(open_case(folder, WHATSAPP_REQUEST))
    assert fragment._repr_html_() == str(fragment)
    assert "<" not in repr(fragment).strip("<>")


def test_kit_errors_show_as_one_line_in_a_notebook():
    shell = InteractiveShell.instance()
    shown = []
    shell._showtraceback = lambda etype, value, stb: shown.append(stb)
    try:
        views.install_error_display()
        result = shell.run_cell("from relief_kit.core.errors import InputError\n"
                                "raise InputError('requests.csv: pedido X não encontrado')")
    finally:
        shell.set_custom_exc((), None)
        del shell._showtraceback
        InteractiveShell.clear_instance()
    assert isinstance(result.error_in_exec, InputError)
    assert len(shown) == 1 and len(shown[0]) == 1
    assert "erro: requests.csv: pedido X não encontrado" in shown[0][0]


def test_a_decision_whose_dates_have_passed_is_shown_as_needing_new_terms(folder):
    case = open_case(folder, WHATSAPP_REQUEST)
    store, criteria = case.store, case.criteria
    amount = Decimal("149.90")
    store.record_decision(
        WHATSAPP_REQUEST,
        DecisionDraft(Action.POSTPONEMENT, Terms(amount=amount, new_due_date=date(2026, 11, 25)),
                      "Pediu prazo até o salário.", "Ana"),
        criteria, checklist=case.checklist, expected_previous=None,
        now=datetime(2026, 11, 20, 9, 30))
    # Opened on 30/11/2026: the new due date has passed.
    later = open_case(folder, WHATSAPP_REQUEST, today=date(2026, 11, 30))
    html = str(views.answers_and_decision(later))
    assert "Precisa de novos termos: a data 25/11/2026 já passou" in html
    assert "registre uma nova decisão" in html


COMPILED_ONCE = """
import pickle, sys
from relief_kit.text import reasons, render

entries = pickle.loads(open(sys.argv[1], 'rb').read())
render.use_compiled(entries)
env = render.environment()
def refuse(*args, **kwargs):
    raise AssertionError("compiled again")
env.compile = refuse  # every template below must come compiled
print(render.render("views/section_title.html", title="Histórico <pagamentos>", note="x"))
print(reasons._catalogue()["format"]["change_joiner"].render())
"""


def test_templates_compiled_once_render_the_same_in_another_process(tmp_path):
    import pickle
    import subprocess
    import sys

    from relief_kit.text import reasons, render

    compiled = tmp_path / "templates.pickle"
    compiled.write_bytes(pickle.dumps(render.compile_templates()))
    shown = subprocess.run([sys.executable, "-c", COMPILED_ONCE, str(compiled)],
                           check=True, capture_output=True, text=True).stdout
    expected = (render.render("views/section_title.html", title="Histórico <pagamentos>",
                              note="x") + "\n"
                + reasons._catalogue()["format"]["change_joiner"].render() + "\n")
    assert shown == expected and "&lt;pagamentos&gt;" in shown
