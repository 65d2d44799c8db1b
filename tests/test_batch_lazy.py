"""The runner's deferred import: jsonschema's IRI checks still work, only later."""

import subprocess
import sys

import pytest

SCRIPT = """
import sys
from relief_kit.shell.batch.lazy import defer_rfc3987_syntax

assert defer_rfc3987_syntax()
import nbformat  # jsonschema with it
from jsonschema import Draft7Validator

assert type(sys.modules["rfc3987_syntax"]).__name__ == "_Deferred"
checker = Draft7Validator.FORMAT_CHECKER
assert "iri" in checker.checkers and "iri-reference" in checker.checkers
validator = Draft7Validator({"format": "iri"}, format_checker=checker)
assert not list(validator.iter_errors("https://exemplo.com.br/ação"))
assert list(validator.iter_errors("não é um IRI ::: <>"))
assert type(sys.modules["rfc3987_syntax"]).__name__ == "module"  # the real one, now
assert defer_rfc3987_syntax() is False  # already imported: nothing to defer
"""


def test_deferred_rfc3987_syntax_checks_iris_as_the_real_module_does():
    pytest.importorskip("rfc3987_syntax")
    subprocess.run([sys.executable, "-c", SCRIPT], check=True)


def test_a_record_kernel_imports_neither_ipywidgets_nor_debugpy():
    """The batch's kernels import what the case notebook imports, but not the review
    app's widgets (a record never builds one) nor ipykernel's debugger."""
    from relief_kit.shell.batch.kernels import KernelPool

    with KernelPool() as pool:
        kernel = pool.kernel()
        kernel.run_silently(
            "import sys\n"
            "from relief_kit.shell import case, facts, queue_page, review, views\n"
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'\n"
            "assert sys.modules.get('debugpy', 'absent') is None, 'debugpy imported'\n"
            "assert review.DayField.__mro__[1].__module__.startswith('ipywidgets')\n")


def test_the_review_app_still_builds_its_widgets_once_imported():
    subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from relief_kit.shell import review\n"
        "assert 'ipywidgets' not in sys.modules\n"
        "field = review.DayField()\n"
        "assert 'ipywidgets' in sys.modules and field.placeholder == 'dd/mm/aaaa'\n")],
        check=True)
