import json
import re
import tomllib
from pathlib import Path

from relief_kit.core.recommend import recommend
from relief_kit.shell.facts import jsonable, recommendation_facts
from relief_kit.text import reasons
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
