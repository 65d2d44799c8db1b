"""The command line speaks Portuguese: every help page, usage line and summary, for the
commands of today and those added later (they are built with the same classes)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from relief_kit import cli

#: click's own English, and the words that give an English sentence away.
ENGLISH = re.compile(
    r"\b(Usage|Options|Commands|Arguments|Show this message|Show the version|default|"
    r"required|INTEGER|FLOAT|DIRECTORY|FILE|PATH|TEXT|BOOLEAN|COMMAND|ARGS|FOLDER|ARCHIVE|"
    r"DOCUMENT|SOURCES|the|and|of|to|with|for|from|or)\b")


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


ALL = [((), cli.main), *_commands(cli.main)]


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(p) or "relief-kit")
def test_every_help_page_is_portuguese(path):
    result = CliRunner().invoke(cli.main, [*path, "--help"], prog_name="relief-kit")
    assert result.exit_code == 0
    # Option names (--as-of) and file names (export.toml) are names, not sentences.
    english = [line for line in result.output.splitlines()
               if ENGLISH.search(re.sub(r"--[\w-]+|\S+\.\w+\b", "", line))]
    assert english == []
    assert result.output.startswith("Uso: relief-kit")


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(p) or "relief-kit")
def test_every_option_is_explained_and_no_summary_is_cut(path):
    command = dict(ALL)[path]
    unexplained = [param.opts[0] for param in command.params
                   if isinstance(param, click.Option) and not param.hidden and not param.help]
    assert unexplained == []
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            summary = sub.get_short_help_str()
            assert summary and not summary.endswith("...")
            assert summary.count("(") == summary.count(")")


def test_relief_kit_alone_prints_its_help_and_exits_0():
    script = Path(sys.executable).parent / "relief-kit"
    result = subprocess.run([str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Uso: relief-kit") and "Comandos:" in lines
    assert max(len(line) for line in lines) <= 100
    assert "review" in result.stdout and "demo" in result.stdout


def test_a_new_subcommand_gets_portuguese_help_without_doing_anything():
    @cli.main.command("exemplo-teste")
    @click.argument("folder")
    @click.option("--count", type=int, default=3, show_default=True, required=True,
                  help="Quantos.")
    def example(folder, count):
        """Um comando de exemplo."""

    try:
        result = CliRunner().invoke(cli.main, ["exemplo-teste", "--help"],
                                    prog_name="relief-kit")
    finally:
        del cli.main.commands["exemplo-teste"]
    assert "Uso: relief-kit exemplo-teste [OPÇÕES] PASTA" in result.output
    assert "--count INTEIRO" in result.output and "padrão: 3" in result.output
    assert "obrigatório" in result.output and "Mostra esta ajuda e sai." in result.output


def test_counts_take_the_right_plural():
    from relief_kit.text.formatting import count, seconds

    assert [count(n, "cadastro", "cadastros") for n in (0, 1, 2, 1500)] == [
        "0 cadastros", "1 cadastro", "2 cadastros", "1.500 cadastros"]
    assert seconds(102.83) == "102,8 s"


def test_a_terminal_table_wraps_long_cells_within_its_width():
    from relief_kit.text.terminal import table

    terms = "R$ 1.234,56 em 6 parcelas: " + "; ".join(f"R$ 205,76 em 10/0{m}/2027"
                                                      for m in range(1, 7))
    text = table(["pedido", "recomendação", "termos"],
                 [["R0001", "Parcelamento", terms], ["R0002", "Recusa", "sem acordo"]],
                 columns=100, no_wrap=["pedido"])
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100 and len(lines) > 4
    assert "R0001" in lines[2] and "10/06/2027" in text and "R0002" in text
