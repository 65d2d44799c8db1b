import json
import re
import tomllib
from pathlib import Path

from relief_kit.core.recommend import recommend
from relief_kit.shell.facts import jsonable, recommendation_facts
from relief_kit.text import labels, reasons
from tests.test_recommend import ANSWERED, EVEN, PF, POOR, REQUEST, criteria  # noqa: F401

CORE = Path(reasons.__file__).parents[1] / "core"


def test_every_code_the_core_gives_has_a_sentence():
    catalogue = tomllib.loads(reasons.CATALOGUE.read_text(encoding="utf-8"))
    source = (CORE / "recommend.py").read_text() + (CORE / "money.py").read_text()
    codes = set(re.findall(r'Reason\(\s*"(\w+)"', source))
    codes |= set(re.findall(r'add\([^,]+,\s*"(\w+)"', source))
    events = set(re.findall(r'Event\(\s*"(\w+)"', source))
    assert codes and events
    known = set(catalogue["reason"]) | set(catalogue["change"])
    assert codes - known == set()
    assert events - set(catalogue["event"]) == set()


def test_every_criterion_the_core_names_has_a_portuguese_name():
    source = "".join(path.read_text() for path in sorted(CORE.glob("*.py")))
    keys = set(re.findall(r'Reason\(\s*"\w+",\s*"([\w.]+)"', source))
    keys |= set(re.findall(r'add\([^,]+,\s*"\w+",\s*"([\w.]+)"', source))
    # f"weights.{band}_record" for each punctuality band that scores.
    assert 'f"weights.{band}_record"' in source
    keys |= {f"weights.{band}_record" for band in ("good", "fair", "poor")}
    assert len(keys) > 20
    named = labels.group("criterion")
    assert {k for k in keys if k not in named} == set()
    assert labels.criterion("checklist.extra.vizinho") == "item da equipe"


def test_reasons_on_the_command_line_name_the_criterion_and_footnote_its_key():
    from relief_kit.core.model import Reason

    lines = reasons.reason_lines([
        Reason("relief_kept", "weights.relief_kept", {"points": 1.0}),
        Reason("chances_calibration"),
        Reason("relief_kept", "weights.relief_kept", {"points": 1.0}),
        Reason("private_refusal", "pratica.recusa_privada"),
    ])
    assert lines[0] == ("    • Já teve acordo antes e o cumpriu (+1 ponto). — critério: peso de "
                        "acordo anterior cumprido [1]")
    assert "critério" not in lines[1] and "[" not in lines[1]
    assert lines[2].endswith("[1]") and lines[3].endswith("recusa dita em particular [2]")
    assert lines[4:] == ["      [1] weights.relief_kept", "      [2] pratica.recusa_privada"]


def test_the_core_writes_no_portuguese():
    for name in ("recommend.py", "money.py"):
        text = (CORE / name).read_text()
        assert "from relief_kit.text" not in text and "import relief_kit.text" not in text
        assert not re.search(r'f"[^"]*\b(não|pago|Pontuação|faturas)\b', text), name


def test_case_json_keeps_code_params_and_the_sentence(criteria):  # noqa: F811
    rec = recommend(PF, POOR, REQUEST, ANSWERED, criteria, REQUEST.received_at.date(), EVEN)
    facts = json.loads(json.dumps(recommendation_facts(rec)))
    assert facts["reasons"] and len(facts["reasons"]) == len(rec.reasons)
    for reason, out in zip(rec.reasons, facts["reasons"], strict=True):
        assert out["code"] == reason.code and out["criterion"] == reason.criterion
        assert out["params"] == jsonable(reason.params)
        assert out["text"] == reasons.reason_text(reason)
    events = [e for o in facts["options"] for e in o["events"]]
    assert events and all(e["code"] and e["text"] for e in events)


def test_reasons_use_decimal_commas_and_plural_forms():
    from relief_kit.core.model import Reason

    assert "menos de 1,5 mensalidades" in reasons.reason_text(
        Reason("debt_below_instalment_months", "instalments.min_debt_months", {"months": 1.5}))
    assert "menos de 2 mensalidades" in reasons.reason_text(
        Reason("debt_below_instalment_months", "instalments.min_debt_months", {"months": 2.0}))
    one = reasons.reason_text(Reason("relief_cap", "relief.max_per_12_months",
                                     {"count": 1, "cap": 2}))
    assert one.startswith("Já teve 1 acordo nos") and "(s)" not in one
    assert reasons.reason_text(Reason("relief_cap", "relief.max_per_12_months",
                                      {"count": 2, "cap": 2})).startswith("Já teve 2 acordos")



def test_catalogue_entries_are_compiled_when_first_used_and_render_the_same():
    import pytest
    from jinja2 import TemplateSyntaxError

    from relief_kit.text import lines
    from relief_kit.text.render import LazyTemplates, environment

    entries = LazyTemplates({"ok": "R$ {{ value }}", "broken": "{% if %}"})
    assert "broken" in entries and len(entries) == 2  # asked without compiling
    assert entries["ok"].render(value=3) == "R$ 3" and entries["ok"] is entries["ok"]
    with pytest.raises(TemplateSyntaxError):  # compiled only now
        entries["broken"]
    with pytest.raises(KeyError):
        entries["absent"]
    # Every entry of both catalogues compiles, as the environment compiles it.
    for module in (reasons, lines):
        raw = tomllib.loads(module.CATALOGUE.read_text(encoding="utf-8"))
        for section, sources in raw.items():
            for code, text in sources.items():
                template = module._catalogue()[section][code]
                assert template.environment is environment()
                environment().from_string(text)  # the same source
                assert code in module._catalogue()[section]
