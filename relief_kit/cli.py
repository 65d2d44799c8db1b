"""The `relief-kit` command: thin, it only turns options into calls.

Every user-facing failure is a ReliefKitError printed as one line (exit 1 or 2);
never a traceback.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from relief_kit import resources
from relief_kit.core.errors import ReliefKitError
from relief_kit.text import formatting as fmt
from relief_kit.text import labels

#: Click's usage errors, in Portuguese (the rest of the message is kept as it is).
_USAGE = [
    (re.compile(r"Missing option '([^']+)'.*"), r"falta a opção \1"),
    (re.compile(r"Missing argument '([^']+)'.*"), r"falta o argumento \1"),
    (re.compile(r"No such command '([^']+)'.*"), r"comando desconhecido '\1'"),
    (re.compile(r"No such option:? '?(-[\w-]+)'?\.?(?: Did you mean '?(-[\w-]+)'?\?)?"),
     lambda m: f"opção desconhecida {m[1]}" + (f" (quis dizer {m[2]}?)" if m[2] else "")),
    (re.compile(r"Option '([^']+)' requires an argument\.?"), r"a opção \1 precisa de um valor"),
    (re.compile(r"Got unexpected extra arguments? \((.*)\)"), r"argumento a mais: \1"),
    (re.compile(r"Invalid value for '([^']+)': (.*)"), r"valor inválido para \1: \2"),
    (re.compile(r"(File|Directory|Path) '(.*)' does not exist\."),
     lambda m: f"{'a pasta' if m[1] == 'Directory' else 'o arquivo'} '{m[2]}' não existe"),
    (re.compile(r"(File|Directory) '(.*)' is a (file|directory)\."),
     lambda m: f"'{m[2]}' é {'uma pasta' if m[3] == 'directory' else 'um arquivo'}"),
    (re.compile(r"'(.*)' is not a valid integer( range)?\."), r"'\1' não é um número inteiro"),
    (re.compile(r"(.*) is not in the range (.*)\."), r"\1 está fora do intervalo \2"),
]


def usage_line(exc: click.UsageError) -> str:
    """A usage error as one Portuguese line naming the command and where to get help."""
    message = " ".join(exc.format_message().split())
    for pattern, replacement in _USAGE:
        message = pattern.sub(replacement, message)
    command = exc.ctx.command_path if exc.ctx else "relief-kit"
    return f"erro: {command}: {message} (veja {command} --help)"


# --------------------------------------------------------------------------- Portuguese help
#
# click writes its own words into every help page ("Usage:", "Options", "Show this message
# and exit.", "[default: 7]", type names such as DIRECTORY). They are replaced here, in the
# classes every command of the kit is made with: ``main.command()`` and ``main.group()``
# build a _Command or a _Group (click's ``command_class``/``group_class``), so a new
# subcommand gets Portuguese help without doing anything.

_HEADINGS = {"Options": "Opções", "Commands": "Comandos", "Arguments": "Argumentos"}
#: click's words in usage lines, option rows and metavars, and the kit's argument names.
_WORDS = [
    (re.compile(r"\[default: "), "[padrão: "),
    (re.compile(r"\[required\]"), "[obrigatório]"),
    (re.compile(r"; required\]"), "; obrigatório]"),
    (re.compile(r"\[OPTIONS\]"), "[OPÇÕES]"),
    (re.compile(r"\bCOMMAND \[ARGS\]\.\.\."), "COMANDO [ARGUMENTOS]..."),
    (re.compile(r"\[COMMAND\] \[ARGS\]\.\.\."), "[COMANDO] [ARGUMENTOS]..."),
    (re.compile(r"\bINTEGER RANGE\b"), "INTEIRO"),
    (re.compile(r"\bFLOAT RANGE\b"), "NÚMERO"),
    (re.compile(r"\bINTEGER\b"), "INTEIRO"),
    (re.compile(r"\bFLOAT\b"), "NÚMERO"),
    (re.compile(r"\bDIRECTORY\b"), "PASTA"),
    (re.compile(r"\bFILE\b"), "ARQUIVO"),
    (re.compile(r"\bPATH\b"), "CAMINHO"),
    (re.compile(r"\bTEXT\b"), "TEXTO"),
    (re.compile(r"\bBOOLEAN\b"), "SIM/NÃO"),
    (re.compile(r"\bFOLDER\b"), "PASTA"),
    (re.compile(r"\bARCHIVE\b"), "ARQUIVO_DE_REGISTROS"),
    (re.compile(r"\bDOCUMENT\b"), "DOCUMENTO"),
    (re.compile(r"\bSOURCES\b"), "FONTES"),
]
HELP_TEXT = "Mostra esta ajuda e sai."


def portuguese(text: str) -> str:
    """click's English words in a usage line or an option row, in Portuguese."""
    for pattern, replacement in _WORDS:
        text = pattern.sub(replacement, text)
    return text


class _Formatter(click.HelpFormatter):
    """click's help formatter with Portuguese headings, usage and option rows."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, portuguese(args), prefix="Uso: ")

    def write_heading(self, heading: str) -> None:
        super().write_heading(_HEADINGS.get(heading, heading))

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        super().write_dl([(portuguese(first), portuguese(second)) for first, second in rows],
                         col_max, col_spacing)


class _Context(click.Context):
    formatter_class = _Formatter


class _Portuguese:
    """What every command of the kit shares: the Portuguese formatter and help option,
    and a one-line summary in the command list that is never cut ("(LGPD art." ...)."""

    context_class = _Context

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            return self.short_help
        first = (self.help or "").strip().split("\n\n")[0]
        return " ".join(first.split())


class _Command(_Portuguese, click.Command):
    pass


class _Group(_Portuguese, click.Group):
    command_class = _Command
    group_class = type  # subgroups are _Group too

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReliefKitError as exc:
            click.echo(f"erro: {exc}", err=True)
            sys.exit(1)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
                # A group called alone: its help, readable, and no error.
                click.echo(exc.ctx.get_help())
                sys.exit(0)
            click.echo(usage_line(exc), err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("Cancelado; nada foi alterado.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(f"erro: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Group, name="relief-kit", invoke_without_command=True)
@click.version_option(package_name="relief-kit", message="%(prog)s, versão %(version)s",
                      help="Mostra a versão e sai.")
@click.pass_context
def main(ctx: click.Context) -> None:
    """relief-kit: analise caso a caso os pedidos de clientes que não conseguem pagar."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


DIR = click.Path(file_okay=False, path_type=Path)
EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


# --------------------------------------------------------------------------- import


def _as_of(value: str | None):
    from datetime import date

    from relief_kit.core.errors import InputError
    from relief_kit.core.values import ValueProblem, parse_date

    if not value:
        return date.today()
    try:
        return parse_date(value)
    except ValueProblem as exc:
        raise InputError(f"--as-of: {exc}")


def _finish_import(result, out: Path, as_of: str | None) -> None:
    """Write the folder, print the summary and what ``relief-kit check`` finds wrong in
    it; exit 1 when a required value was unusable or the folder does not pass."""
    from relief_kit.shell.check import check_folder
    from relief_kit.sources.importers.folder import write_import

    day = _as_of(as_of)
    write_import(result, out, day)
    report = result.report
    del result  # a large import's bills are written: free them before the check reads them
    for line in report.lines():
        click.echo(line)
    errors = [p for p in check_folder(out, day) if p.is_error]
    if errors:
        click.echo(f"relief-kit check: {fmt.count(len(errors), 'erro', 'erros')} na pasta "
                   "importada:")
        for problem in errors[:50]:
            click.echo(f"  - {problem.located(out)}")
        if len(errors) > 50:
            click.echo(f"  ... e mais {len(errors) - 50}: rode relief-kit check {out}")
    click.echo(f"Pasta de dados: {out}")
    if report.failed or errors:
        sys.exit(1)


_AS_OF = click.option("--as-of", metavar="DATA",
                      help="Data da exportação (padrão: hoje), gravada em export.toml.")


@main.group("import")
def import_group() -> None:
    """Transforme a exportação do sistema do provedor em uma pasta de dados."""


@import_group.command("ixc")
@click.option("--clientes", "clientes", multiple=True, required=True, type=EXISTING_FILE,
              help="Tabela cliente (JSON da API, CSV ou XLSX); repita para várias páginas.")
@click.option("--areceber", "areceber", multiple=True, required=True, type=EXISTING_FILE,
              help="Tabela fn_areceber (faturas); repita para várias páginas.")
@click.option("--contratos", "contratos", multiple=True, type=EXISTING_FILE,
              help="Tabela cliente_contrato: plano e status da conexão.")
@click.option("--cidades", "cidades", multiple=True, type=EXISTING_FILE,
              help="Tabela cidade: troca o id numérico da cidade pelo nome.")
@click.option("--out", required=True, type=DIR, help="Pasta de dados a criar ou atualizar.")
@_AS_OF
def import_ixc(clientes, areceber, contratos, cidades, out: Path, as_of: str | None) -> None:
    """IXC Provedor: cliente, fn_areceber e (opcional) cliente_contrato e cidade."""
    from relief_kit.sources.importers.folder import check_destination
    from relief_kit.sources.importers.ixc import import_ixc as run

    check_destination(out)
    _finish_import(run(clientes, areceber, contratos, cidades), out, as_of)


@import_group.command("mkauth")
@click.option("--clientes", required=True, type=EXISTING_FILE,
              help="Exportação de sis_cliente (CSV).")
@click.option("--lancamentos", required=True, type=EXISTING_FILE,
              help="Exportação de sis_lanc (CSV).")
@click.option("--out", required=True, type=DIR, help="Pasta de dados a criar ou atualizar.")
@_AS_OF
def import_mkauth(clientes: Path, lancamentos: Path, out: Path, as_of: str | None) -> None:
    """MK-Auth: sis_cliente e sis_lanc, ligados pelo login."""
    from relief_kit.sources.importers.folder import check_destination
    from relief_kit.sources.importers.mkauth import import_mkauth as run

    check_destination(out)
    _finish_import(run(clientes, lancamentos), out, as_of)


@import_group.command("csv")
@click.option("--map", "mapping", required=True, type=EXISTING_FILE,
              help="Arquivo de mapeamento TOML (exemplo: data/mappings/hubsoft.toml).")
@click.argument("sources", nargs=-1, required=True, type=EXISTING_FILE)
@click.option("--out", required=True, type=DIR, help="Pasta de dados a criar ou atualizar.")
@_AS_OF
def import_csv(mapping: Path, sources, out: Path, as_of: str | None) -> None:
    """Qualquer outro sistema (Hubsoft, SGP, Voalle, planilha) por um mapeamento de colunas."""
    from relief_kit.sources.importers.folder import check_destination
    from relief_kit.sources.importers.mapped import import_mapped as run

    check_destination(out)
    _finish_import(run(mapping, sources), out, as_of)


# --------------------------------------------------------------------------- batch & demo

SAMPLE = resources.SAMPLE


def _today(option: str | None, folder_as_of=None):
    """The as-of date (:func:`relief_kit.core.as_of.as_of_date`); a bad --today is one line."""
    from datetime import date

    from relief_kit.core.as_of import as_of_date
    from relief_kit.core.errors import InputError
    from relief_kit.core.values import ValueProblem

    try:
        return as_of_date(option, folder_as_of, date.today())
    except ValueProblem as exc:
        raise InputError(f"--today: {exc}")


def _print_recommendations(folder: Path, criteria_path: Path | None, today: str | None,
                           *, reasons: bool = True) -> None:
    """The recommendations as a table that fits the terminal (at most 100 columns);
    then, with ``reasons``, each request's reasons with their criteria as footnotes."""
    from relief_kit.core.criteria import load_criteria
    from relief_kit.shell.replay import recommend_all, recommendations_table
    from relief_kit.sources.tables import load_folder
    from relief_kit.text.terminal import table as terminal_table

    portfolio = load_folder(folder)
    criteria = load_criteria(criteria_path)
    cases = recommend_all(portfolio, criteria, as_of=_today(today, portfolio.as_of))
    shown = recommendations_table(cases).drop(columns=["razões"])
    click.echo(terminal_table(list(shown.columns), shown.itertuples(index=False),
                              no_wrap=["pedido", "cliente"]))
    if not reasons:
        click.echo(f"\nCritérios: versão {criteria.version}, SHA-256 {criteria.short_hash}…")
        return
    click.echo("")
    from relief_kit.text.reasons import reason_lines

    for case in cases:
        rec = case.recommendation
        click.echo(f"{case.request_id} — {labels.action(rec.action)}")
        for line in reason_lines(rec.reasons):
            click.echo(line)
    click.echo(f"\nCritérios: versão {criteria.version}, SHA-256 {criteria.short_hash}…")


@main.command("recommend")
@click.argument("folder", type=EXISTING_DIR)
@click.option("--criteria", "criteria_path", type=EXISTING_FILE, default=None,
              help="Arquivo de critérios (padrão: os critérios que vêm com o kit).")
@click.option("--today", default=None, help="Data de referência (padrão: a da exportação).")
def recommend_command(folder: Path, criteria_path: Path | None, today: str | None) -> None:
    """Mostra a recomendação e as razões de cada pedido da pasta."""
    _print_recommendations(folder, criteria_path, today)


@main.command("batch")
@click.argument("folder", type=EXISTING_DIR)
@click.option("--archive", type=DIR, required=True, help="Pasta do arquivo de registros.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Casos em paralelo (padrão: o número de núcleos).")
@click.option("--criteria", "criteria_path", type=EXISTING_FILE, default=None,
              help="Arquivo de critérios (padrão: os critérios que vêm com o kit).")
@click.option("--today", default=None, help="Data de referência (padrão: a da exportação).")
@click.option("--isolated", is_flag=True, help="Um kernel novo para cada caso.")
@click.option("--force", is_flag=True, help="Reescreve também os casos já em dia.")
def batch_command(folder: Path, archive: Path, workers: int | None, criteria_path: Path | None,
                  today: str | None, isolated: bool, force: bool) -> None:
    """Escreve (ou atualiza) um registro por pedido no arquivo."""
    import gc

    result = _run_batch(folder, archive, workers=workers, criteria_path=criteria_path,
                        today=today, isolated=isolated, force=force)
    # The process ends next: what exists now is left out of the collector's last pass
    # over every object (about 0.2 s of exit).
    gc.freeze()
    if result.failed:
        sys.exit(1)


def _run_batch(folder: Path, archive: Path, **options):
    from tqdm import tqdm

    from relief_kit.shell.batch import BatchInterrupted, run_batch
    from relief_kit.sources.tables import read_folder_info

    as_of, _ = read_folder_info(folder)
    today = options.pop("today", None)
    # disable=None: a bar only on a terminal (in a pipe or a log, the summary says it all).
    with tqdm(desc="Registros", unit="caso", leave=True, disable=None) as bar:
        def progress(outcome):
            bar.update(1)
            if outcome.status == "failed":
                bar.write(f"falhou: {outcome.request_id}: {outcome.message}")

        def planned(total: int) -> None:
            bar.total = total
            bar.refresh()

        pdf_bar = None

        def pdf_progress(outcome) -> None:
            nonlocal pdf_bar
            if pdf_bar is None:
                bar.close()
                pdf_bar = tqdm(desc="PDF/A", unit="caso", leave=True, disable=None)
            pdf_bar.update(1)
            if outcome.status == "failed":
                pdf_bar.write(f"falhou: {outcome.request_id}: {outcome.message}")

        def interrupted(times: int) -> None:
            bar.write("Interrompendo: nenhum caso novo; os em andamento terminam "
                      "(Ctrl-C de novo abandona-os já)." if times == 1 else
                      "Abandonando os casos em andamento; encerrando os kernels.",
                      file=sys.stderr)

        try:
            result = run_batch(folder, archive, today=_today(today, as_of).isoformat(),
                               progress=progress, planned=planned, interrupted=interrupted,
                               pdf_progress=pdf_progress, **options)
        except BatchInterrupted as stop:
            import signal

            # The run has stopped: a further Ctrl-C or SIGTERM while this is said and the
            # process exits asks for what is already happening (it would otherwise kill
            # the process mid-exit, without its exit status).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            bar.close()
            click.echo(str(stop), err=True)
            sys.exit(130)
        finally:
            if pdf_bar is not None:
                pdf_bar.close()
    click.echo(result.summary())
    for outcome in result.outcomes:
        if outcome.status == "written" and outcome.message:
            click.echo(f"{outcome.request_id}: {outcome.message}")
    _print_ledger_head(archive)
    for outcome in result.failed:
        click.echo(f"falhou: {outcome.request_id}: {outcome.message}", err=True)
    return result


@main.command("demo")
@click.argument("folder", type=DIR, default=Path("demo-output"), required=False)
def demo_command(folder: Path) -> None:
    """Dados de exemplo, recomendações, registros e relatório de reunião de uma vez."""
    import shutil

    from relief_kit.core.errors import InputError

    data = folder / "dados"
    archive = folder / "arquivo"
    if folder.exists() and any(folder.iterdir()) and not data.is_dir():
        raise InputError(f"{folder}: a pasta existe e não é de uma demonstração anterior; "
                         "escolha outra pasta.")
    if not data.is_dir():
        shutil.copytree(SAMPLE, data)
    click.echo(f"1. Dados de exemplo em {data}\n")
    _print_recommendations(data, None, None, reasons=False)
    from relief_kit.tools.demo import ANALYST, simulate_decisions

    decided = simulate_decisions(data)
    if decided:
        click.echo(f"\nDecisões simuladas ('{ANALYST}', aceitando a recomendação) em "
                   f"{fmt.count(decided, 'pedido', 'pedidos')},\n"
                   "para os registros mostrarem casos decididos e mensagens.")
    click.echo(f"\n2. Registros dos casos em {archive}")
    result = _run_batch(data, archive, workers=None, criteria_path=None, isolated=False,
                        force=False)
    report = folder / "reuniao.html"
    click.echo(f"\n3. Relatório da reunião da equipe em {report}")
    _write_meeting(data, archive, report, None, None, None)
    click.echo("\nOnde olhar:")
    click.echo(f"  - registros, com as razões de cada recomendação (abra no navegador):\n"
               f"      {archive}/<pedido>/record.html e record.pdf")
    click.echo(f"  - reunião da equipe (sem nomes): {report}")
    command = _this_command()
    click.echo("\nPróximos comandos:")
    click.echo(f"  {command} verify {archive}\n"
               f"      confere cada arquivo do registro com o seu SHA256SUMS")
    click.echo(f"  {command} queue {data}\n      os casos em aberto, por prazo")
    click.echo(f"  {command} review {data}\n"
               f"      abre no navegador a fila de casos; um clique abre cada caso "
               f"(--request ID abre um direto)")
    if result.failed:
        sys.exit(1)


def _this_command() -> str:
    """How the user can type this program again: ``relief-kit`` when that name on the
    PATH is this program, else its path (``.venv/bin/relief-kit`` after ``make demo``,
    whose virtual environment is not activated)."""
    me = Path(sys.argv[0])
    if me.name != "relief-kit":
        return "relief-kit"
    import shutil

    found = shutil.which("relief-kit")
    if found and Path(found).resolve() == me.resolve():
        return "relief-kit"
    try:
        return str(me.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(me.resolve())


# --------------------------------------------------------------------------- sample


@main.command("sample")
@click.argument("folder", type=DIR)
@click.option("--customers", default=300, show_default=True, type=click.IntRange(min=1),
              help="Número de clientes.")
@click.option("--months", default=24, show_default=True, type=click.IntRange(1, 240),
              help="Meses de faturas até a data de referência.")
@click.option("--requests", "requests_", default=40, show_default=True,
              type=click.IntRange(min=0), help="Número de pedidos de ajuda.")
@click.option("--seed", default=7, show_default=True, type=click.IntRange(min=0),
              help="Semente: os mesmos números geram os mesmos arquivos.")
@click.option("--today", default=None, metavar="DATA",
              help="Data de referência, dd/mm/aaaa ou aaaa-mm-dd (padrão: hoje).")
def sample_command(folder: Path, customers: int, months: int, requests_: int, seed: int,
                   today: str | None) -> None:
    """Grava em PASTA uma carteira sintética realista (dados fictícios).

    Só escreve numa pasta nova, vazia ou de uma amostra anterior: nunca sobre dados reais.
    """
    from relief_kit.tools.sample.portfolio import (
        check_sample_destination,
        describe,
        generate,
        write_sample,
    )

    check_sample_destination(folder)  # before the work, not after it
    portfolio = generate(customers, months, requests_, seed, as_of=_today(today))
    write_sample(folder, portfolio)
    for line in describe(portfolio):
        click.echo(line)
    click.echo(f"Pasta de dados: {folder}")


# --------------------------------------------------------------------------- check


@main.command("check")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--today", default=None, metavar="DATA",
              help="Data de hoje para as regras de datas, dd/mm/aaaa ou aaaa-mm-dd "
                   "(padrão: a data de export.toml, senão hoje).")
def check_command(folder: Path, today: str | None) -> None:
    """Confere uma pasta de dados: uma linha por problema, com arquivo, linha e coluna.

    Sai com código 1 se houver algum erro; avisos não impedem o uso da pasta.
    """
    from relief_kit.core.errors import InputError
    from relief_kit.shell.check import inspect_folder, summary
    from relief_kit.sources.tables import read_folder_info

    try:
        as_of = read_folder_info(folder)[0] if folder.is_dir() else None
    except InputError:
        as_of = None  # inspect_folder reports the broken export.toml as a problem
    portfolio, problems = inspect_folder(folder, _today(today, as_of))
    for problem in problems:
        click.echo(str(problem))
    click.echo(summary(problems, portfolio))
    if any(problem.is_error for problem in problems):
        sys.exit(1)


# --------------------------------------------------------------------------- review


@main.command("review")
@click.argument("folder", type=EXISTING_DIR)
@click.option("--request", "request_id", default=None, metavar="ID",
              help="Abre este pedido (padrão: a fila de casos; com --lab, o primeiro "
                   "pedido ainda sem decisão).")
@click.option("--lab", is_flag=True,
              help="Abre o caderno no JupyterLab, com o código, em vez do aplicativo.")
@click.option("--app", is_flag=True, hidden=True)  # the default since 0.2; kept for scripts
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Porta local (padrão: 8866, ou 8888 com --lab; a próxima livre).")
@click.option("--criteria", "criteria_path", type=EXISTING_FILE, default=None,
              help="Arquivo de critérios (padrão: os critérios que vêm com o kit).")
@click.option("--analyst", default=None, metavar="NOME",
              help="Nome do analista; guardado para as próximas revisões deste usuário.")
@click.option("--today", default=None, metavar="DATA",
              help="Data de referência (padrão: a da exportação).")
@click.option("--no-browser", is_flag=True, help="Não abre o navegador; só mostra o endereço.")
def review_command(folder: Path, request_id: str | None, lab: bool, app: bool,
                   port: int | None, criteria_path: Path | None, analyst: str | None,
                   today: str | None, no_browser: bool) -> None:
    """Abre a revisão no navegador, pronta para trabalhar.

    Por padrão, como aplicativo, sem código nem menus: a fila de casos abertos (os mais
    atrasados primeiro), e cada caso abre com um clique; com --request, direto naquele
    caso. Com --lab, o caderno de um pedido no JupyterLab.
    """
    from relief_kit.shell.launch import (
        app_server,
        choose_request,
        lab_server,
        prepare_app,
        prepare_notebook,
        run,
        runtime_dir,
    )
    from relief_kit.sources.tables import read_folder_info

    if criteria_path is not None:
        from relief_kit.core.criteria import load_criteria

        load_criteria(criteria_path)  # a broken file is one line here, not in the notebook
    name = _analyst_name(analyst)
    day = _today(today, read_folder_info(folder)[0]).isoformat() if today else ""
    if lab or request_id:
        request_id = choose_request(folder, request_id)  # one line for an unknown id
    try:
        if lab:
            notebook = prepare_notebook(folder, request_id, analyst=name,
                                        criteria_path=criteria_path, today=day)
            server = lab_server(notebook, port=port, open_browser=not no_browser)
        else:
            pages = prepare_app(folder, analyst=name, criteria_path=criteria_path, today=day)
            server = app_server(pages, port=port, open_browser=not no_browser,
                                request_id=request_id)
        runtime = runtime_dir(folder)
    except OSError as exc:
        from relief_kit.core.errors import InputError
        from relief_kit.shell.archive import storage_reason

        raise InputError(f"{folder}: não é possível preparar a revisão "
                         f"({storage_reason(exc)}); a revisão grava o notebook e as "
                         "respostas na pasta de dados.")
    if request_id:
        click.echo(f"Pedido {request_id}, revisado por {name}.")
    else:
        click.echo(f"Fila de casos de {name}: cada pedido abre com um clique.")
    click.echo(f"Abra no navegador (só neste computador): {server.url}")
    click.echo("Para encerrar: Ctrl+C.")
    code = run(server, runtime)
    if code not in (0, -2, -15, 130):
        sys.exit(code)


def _analyst_name(given: str | None) -> str:
    """The analyst's name: given (and remembered), else remembered, else asked once."""
    from relief_kit.core.errors import InputError
    from relief_kit.shell.launch import remember_analyst, remembered_analyst

    name = (given or "").strip() or remembered_analyst()
    if not name:
        if not sys.stdin.isatty():
            raise InputError("--analyst: informe o seu nome (fica guardado para as próximas "
                             "revisões).")
        name = click.prompt("Seu nome (aparece nas decisões; fica guardado para as próximas "
                            "revisões)").strip()
        if not name:
            raise InputError("o nome do analista é obrigatório.")
    if name != remembered_analyst():
        try:
            remember_analyst(name)
        except OSError as exc:  # remembering is a convenience: the review goes on
            click.echo(f"aviso: não foi possível guardar o nome do analista ({exc.strerror});"
                       " informe --analyst da próxima vez.", err=True)
    return name


@main.command("meeting")
@click.argument("folder", type=EXISTING_DIR)
@click.option("--archive", type=DIR, required=True, help="Pasta do arquivo de registros.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Arquivo HTML do relatório.")
@click.option("--proposed", type=EXISTING_FILE, default=None,
              help="Critérios propostos, para o 'e se'.")
@click.option("--criteria", "criteria_path", type=EXISTING_FILE, default=None,
              help="Arquivo de critérios (padrão: os critérios que vêm com o kit).")
@click.option("--today", default=None, help="Data de referência (padrão: a da exportação).")
def meeting_command(folder: Path, archive: Path, out: Path, proposed: Path | None,
                    criteria_path: Path | None, today: str | None) -> None:
    """Relatório da reunião da equipe, sem nomes (pseudônimos)."""
    _write_meeting(folder, archive, out, proposed, criteria_path, today)


def _write_meeting(folder: Path, archive: Path, out: Path, proposed: Path | None,
                   criteria_path: Path | None, today: str | None) -> None:
    from datetime import datetime

    from relief_kit.shell.heap import keep_freed_memory
    from relief_kit.shell.meeting import build_inputs, meeting_report
    from relief_kit.shell.pseudonyms import pseudonymizer
    from relief_kit.shell.replay import cycle_collection_paused
    from relief_kit.sources.tables import read_folder_info
    from relief_kit.text import formatting as fmt

    keep_freed_memory()  # the report computes over the whole portfolio, then exits
    as_of, _ = read_folder_info(folder)
    # One pause for the whole report; the process ends after it (see the note).
    with cycle_collection_paused(then_freeze=True):
        inputs = build_inputs(folder, criteria_path=criteria_path, proposed_path=proposed,
                              today=_today(today, as_of))
        records = sum(1 for p in archive.glob("*/case.json")) if archive.is_dir() else 0
        html = meeting_report(inputs, pseudonymizer(), fmt.moment(datetime.now()),
                              archived=records)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    click.echo(f"Relatório da reunião: {out} "
               f"({fmt.count(len(inputs.decisions), 'decisão', 'decisões')}, "
               f"{fmt.count(records, 'registro', 'registros')} no arquivo).")
    _print_ledger_head(archive)


def _print_ledger_head(archive: Path) -> None:
    """The ledger's head, to be kept elsewhere (it proves the archive was not rewritten)."""
    from relief_kit.shell.archive import ledger_head

    head = ledger_head(archive) if archive.is_dir() else ""
    if head:
        click.echo(f"Livro-razão do arquivo (anote a cabeça fora do arquivo):\n  {head}")


@main.command("verify")
@click.argument("archive", type=EXISTING_DIR)
def verify_command(archive: Path) -> None:
    """Confere cada arquivo do arquivo de registros com o seu SHA256SUMS."""
    from relief_kit.shell.archive import count_cases, verify

    problems = verify(archive)
    for problem in problems:
        click.echo(str(problem))
    cases, files = count_cases(archive)
    if problems:
        click.echo(f"{fmt.count(len(problems), 'problema', 'problemas')} em {archive}.",
                   err=True)
        sys.exit(1)
    click.echo(f"Arquivo íntegro: {fmt.count(cases, 'caso', 'casos')}, "
               f"{fmt.count(files, 'arquivo conferido', 'arquivos conferidos')}.")
    _print_ledger_head(archive)


# --------------------------------------------------------------------------- privacy


def _now(today: str | None):
    """Now, or the start of ``--today`` (for a purge run as of a given day)."""
    from datetime import datetime

    if not today:
        return datetime.now()
    return datetime.combine(_as_of(today), datetime.min.time())


@main.command("purge")
@click.argument("archive", type=EXISTING_DIR)
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True,
              help="Dias desde a decisão a partir dos quais um caso fechado é expurgado.")
@click.option("--dry-run", is_flag=True, help="Só mostra o que seria expurgado.")
@click.option("--data", "data_dir", type=EXISTING_DIR, default=None,
              help="Pasta de dados: expurga também o banco de casos e a cópia da evidência.")
@click.option("--who", default=None, help="Quem expurga (padrão: o usuário do sistema).")
@click.option("--today", default=None, help="Data de referência (padrão: hoje).")
def purge_command(archive: Path, days: int, dry_run: bool, data_dir: Path | None,
                  who: str | None, today: str | None) -> None:
    """Expurgo por retenção: casos fechados há mais de N dias perdem a evidência e os
    dados sensíveis; a trilha da decisão fica."""
    from relief_kit.shell.privacy import purge
    from relief_kit.text import formatting as fmt

    report = purge(archive, days, data_dir=data_dir, dry_run=dry_run, who=who,
                   now=_now(today))
    prefix = "seria expurgado" if dry_run else "expurgado"
    for case in report.purged:
        removed = ", ".join(case.removed) or "nenhum arquivo"
        click.echo(f"{case.request_id}: decidido em {fmt.day(case.decided_on)} "
                   f"({case.age_days} dias) — {prefix}; removidos: {removed}; dados "
                   "sensíveis do case.json e registro reduzido à trilha da decisão.")
    for line in report.data_notes:
        click.echo(line)
    for line in report.refused:
        click.echo(f"recusado: {line}", err=True)
    click.echo(report.summary())
    if data_dir is None and report.purged and not dry_run:
        click.echo("aviso: sem --data, as respostas no banco de casos e a evidência na pasta "
                   "de dados não foram expurgadas; rode de novo com --data PASTA.", err=True)
    if report.refused:
        sys.exit(1)


@main.group("subject")
def subject_group() -> None:
    """Pedidos do titular dos dados (LGPD, artigo 18): exportar ou apagar um CPF/CNPJ."""


@subject_group.command("export")
@click.argument("document")
@click.option("--data", "data_dir", type=EXISTING_DIR, required=True, help="Pasta de dados.")
@click.option("--archive", type=DIR, default=None, help="Pasta do arquivo de registros.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Arquivo JSON a entregar ao titular (criado legível só pelo dono).")
def subject_export_command(document: str, data_dir: Path, archive: Path | None,
                           out: Path) -> None:
    """Tudo o que o relief-kit guarda sobre um CPF/CNPJ, num arquivo JSON."""
    import json
    import os

    from relief_kit.core.documents import mask_document
    from relief_kit.shell.privacy import subject_export

    data = subject_export(document, data_dir=data_dir, archive=archive)
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
    click.echo(f"Dados de {mask_document(document)}: "
               f"{fmt.count(len(data['cadastro']), 'cadastro', 'cadastros')}, "
               f"{fmt.count(len(data['faturas']), 'fatura', 'faturas')}, "
               f"{fmt.count(len(data['pedidos']), 'pedido', 'pedidos')}, "
               f"{fmt.count(len(data['arquivo_dos_casos']), 'caso', 'casos')} no arquivo "
               f"→ {out}")


@subject_group.command("erase")
@click.argument("document")
@click.option("--data", "data_dir", type=EXISTING_DIR, required=True, help="Pasta de dados.")
@click.option("--archive", type=DIR, default=None, help="Pasta do arquivo de registros.")
@click.option("--who", default=None, help="Quem apaga (padrão: o usuário do sistema).")
@click.option("--yes", is_flag=True, help="Não pedir confirmação.")
def subject_erase_command(document: str, data_dir: Path, archive: Path | None,
                          who: str | None, yes: bool) -> None:
    """Apaga os dados de um CPF/CNPJ, mantendo só o que a lei exige (com o motivo)."""
    from relief_kit.core.errors import InputError
    from relief_kit.shell.privacy import erasure_plan, subject_erase

    subject, plan = erasure_plan(document, data_dir=data_dir, archive=archive)
    if plan.refused:
        raise InputError(f"nada foi apagado: {plan.refused[0]}")
    if plan.nothing:
        click.echo(plan.lines()[0])
        return
    if not yes:
        click.echo("Será feito:")
        for line in plan.lines():
            click.echo(f"  {line}")
        click.confirm("Apagar?", abort=True)
    report = subject_erase(document, data_dir=data_dir, archive=archive, who=who,
                           plan=(subject, plan))
    for line in report.lines():
        click.echo(line)


# --------------------------------------------------------------------------- after the decision


def _moment(option: str | None):
    """--at as a datetime (``dd/mm/aaaa hh:mm`` or ISO), else now."""
    from datetime import datetime

    from relief_kit.core.errors import InputError
    from relief_kit.core.values import ValueProblem, parse_datetime

    if not option:
        return datetime.now().replace(microsecond=0)
    try:
        value = parse_datetime(option)
    except ValueProblem as exc:
        raise InputError(f"--at: {exc}")
    if value is None:
        raise InputError("--at: informe data e hora, como 20/11/2026 14:30.")
    return value


def _day_option(name: str, value: str | None):
    from relief_kit.core.errors import InputError
    from relief_kit.core.values import ValueProblem, parse_date

    if not value:
        return None
    try:
        return parse_date(value)
    except ValueProblem as exc:
        raise InputError(f"{name}: {exc}")


_ACTIONS = ("discount", "postponement", "instalments", "refusal", "ask_info")


@main.command("decide")
@click.argument("folder", type=EXISTING_DIR)
@click.option("--request", "request_id", required=True, metavar="ID", help="Pedido a decidir.")
@click.option("--action", type=click.Choice(_ACTIONS), required=True,
              help="discount, postponement, instalments, refusal ou ask_info.")
@click.option("--discount", "discount_percent", default=None, metavar="PCT",
              help="Desconto em % (discount).")
@click.option("--pay-by", default=None, metavar="DATA", help="Pagar com desconto até (discount).")
@click.option("--new-due-date", default=None, metavar="DATA",
              help="Novo vencimento (postponement).")
@click.option("--instalments", "instalment_count", type=click.IntRange(min=1), default=None,
              help="Número de parcelas iguais (instalments).")
@click.option("--first-due", default=None, metavar="DATA",
              help="Vencimento da primeira parcela (instalments).")
@click.option("--analyst", required=True, help="Quem decide.")
@click.option("--justification", required=True, help="Por que esta decisão.")
@click.option("--second-analyst", default="",
              help="Quem confirma a recusa a um domicílio com morador em situação de risco.")
@click.option("--criteria", "criteria_path", type=EXISTING_FILE, default=None,
              help="Arquivo de critérios (padrão: os critérios que vêm com o kit).")
@click.option("--today", default=None, help="Data de referência (padrão: a da exportação).")
@click.option("--at", "at", default=None, metavar="DATA HORA",
              help="Quando foi decidido (padrão: agora), ex.: a reunião de ontem.")
def decide_command(folder: Path, request_id: str, action: str, discount_percent: str | None,
                   pay_by: str | None, new_due_date: str | None, instalment_count: int | None,
                   first_due: str | None, analyst: str, justification: str,
                   second_analyst: str, criteria_path: Path | None, today: str | None,
                   at: str | None) -> None:
    """Registra uma decisão com a mesma validação da revisão.

    Sem termos na linha de comando, usa os termos da recomendação para essa ação.
    Cada recusa de termos é uma linha; nada é gravado se houver alguma.
    """
    from relief_kit.core.errors import InputError
    from relief_kit.core.values import ValueProblem, parse_money
    from relief_kit.shell.aftercare import record_decision
    from relief_kit.shell.case import open_case
    from relief_kit.shell.decide import draft_for
    from relief_kit.sources.tables import read_folder_info

    try:
        percent = parse_money(discount_percent) if discount_percent else None
    except ValueProblem as exc:
        raise InputError(f"--discount: {exc}")
    case = open_case(folder, request_id, criteria_path=criteria_path,
                     today=_today(today, read_folder_info(folder)[0]))
    draft = draft_for(case, action, analyst=analyst, justification=justification,
                      second_analyst=second_analyst, discount_percent=percent,
                      pay_by=_day_option("--pay-by", pay_by),
                      new_due_date=_day_option("--new-due-date", new_due_date),
                      instalment_count=instalment_count,
                      first_due=_day_option("--first-due", first_due))
    # Terms are judged on the day the decision is taken: --at, else today (never only the
    # export's date, which may be days old: a pay-by date already past is refused).
    from datetime import date as _date

    decided_on = _moment(at).date() if at else max(case.today, _date.today())
    problems = case.store.validate_decision(draft, case.checklist, case.criteria, decided_on)
    if problems:
        for problem in problems:
            click.echo(f"erro: {request_id}: {problem}", err=True)
        sys.exit(1)
    decision = record_decision(case, draft, checklist=case.checklist,
                               expected_previous=case.decisions[-1].decision_id
                               if case.decisions else None, now=_moment(at),
                               today=decided_on)
    from relief_kit.core import erp_actions
    from relief_kit.text import formatting as fmt
    from relief_kit.text import labels

    click.echo(f"{request_id}: decisão registrada — {labels.action(draft.action)}: "
               f"{fmt.terms_text(draft.action, decision.terms)} "
               f"({decision.analyst}, {fmt.moment(decision.decided_at)}).")
    click.echo(f"Ações no ERP: {folder / erp_actions.file_name(decision.decided_at.date())}")


@main.command("sent")
@click.argument("folder", type=EXISTING_DIR)
@click.option("--request", "request_id", required=True, metavar="ID",
              help="Pedido cuja mensagem foi enviada.")
@click.option("--channel", type=click.Choice(("whatsapp", "email")), required=True,
              help="Por onde a mensagem foi enviada.")
@click.option("--analyst", default=None, help="Quem enviou (padrão: o usuário do sistema).")
@click.option("--at", "at", default=None, metavar="DATA HORA",
              help="Quando foi enviada (padrão: agora).")
def sent_command(folder: Path, request_id: str, channel: str, analyst: str | None,
                 at: str | None) -> None:
    """Registra que a mensagem da decisão foi enviada ao cliente: quando e como."""
    import getpass

    from relief_kit.shell.aftercare import mark_sent
    from relief_kit.text import formatting as fmt
    from relief_kit.text.lines import label

    sent = mark_sent(folder, request_id, channel, analyst=analyst or getpass.getuser(),
                     now=_moment(at))
    click.echo(f"{request_id}: cliente avisado por {label('channel', sent.channel)} em "
               f"{fmt.moment(sent.sent_at)} ({sent.analyst}).")


def _aftercare(folder: Path, criteria_path: Path | None, today: str | None):
    # The same reading as the review app's queue page (shell.queue_page).
    from relief_kit.shell.aftercare import morning
    from relief_kit.sources.tables import read_folder_info

    return morning(folder, criteria_path=criteria_path,
                   today=_today(today, read_folder_info(folder)[0]))


_CRITERIA = click.option("--criteria", "criteria_path", type=EXISTING_FILE, default=None,
                         help="Arquivo de critérios (padrão: data/criteria.toml).")
_TODAY = click.option("--today", default=None,
                      help="Data de referência (padrão: a da exportação).")


@main.command("queue")
@click.argument("folder", type=EXISTING_DIR)
@_CRITERIA
@_TODAY
def queue_command(folder: Path, criteria_path: Path | None, today: str | None) -> None:
    """Os casos abertos, os mais atrasados primeiro (prazos em dias úteis)."""
    from relief_kit.text.queue import queue_lines

    for line in queue_lines(_aftercare(folder, criteria_path, today)):
        click.echo(line)


@main.command("follow-up")
@click.argument("folder", type=EXISTING_DIR)
@_CRITERIA
@_TODAY
@click.option("--reminder", "reminder", default=None, metavar="ID",
              help="Mostra o lembrete particular (WhatsApp) de um acordo que vence em breve.")
def follow_up_command(folder: Path, criteria_path: Path | None, today: str | None,
                      reminder: str | None) -> None:
    """Cada acordo conferido com as faturas: cumprido, vence em breve ou rompido."""
    from relief_kit.text.queue import follow_up_lines

    care = _aftercare(folder, criteria_path, today)
    if reminder is None:
        for line in follow_up_lines(care):
            click.echo(line)
        return
    from relief_kit.core.errors import InputError
    from relief_kit.core.settings import load_provider
    from relief_kit.shell.messages import reminder_messages, whatsapp_link
    from relief_kit.sources.tables import load_folder

    check = next((f for f in care.follow_ups if f.request_id == reminder), None)
    if check is None or check.kind != "due_soon":
        raise InputError(f"--reminder: o pedido {reminder!r} não tem acordo vencendo em breve; "
                         f"veja relief-kit follow-up {folder}.")
    from datetime import date as _date

    from relief_kit.sources.tables import read_folder_info
    from relief_kit.text import formatting as fmt

    produced = max(_today(today, read_folder_info(folder)[0]), _date.today())
    if check.next_date is not None and check.next_date < produced:
        # A message never names a date already past (CDC art. 6 III).
        raise InputError(f"--reminder: a data combinada do pedido {reminder} "
                         f"({fmt.day(check.next_date)}) já passou; combine novos termos "
                         "com o cliente em vez de lembrar dela.")
    customer = load_folder(folder, request_ids=[reminder]).customer(check.customer_id)
    provider = load_provider()
    text = reminder_messages(check, customer, provider).whatsapp_text
    click.echo(text)
    click.echo(whatsapp_link(customer.phone, text, provider.region))


@main.command("guard")
@click.argument("folder", type=EXISTING_DIR)
@_CRITERIA
@_TODAY
def guard_command(folder: Path, criteria_path: Path | None, today: str | None) -> None:
    """Clientes com caso aberto ou acordo em dia bloqueados, notificados ou multados.

    Sai com código 1 quando a lista não está vazia (para rodar toda manhã no cron).
    """
    from relief_kit.text.queue import guard_lines

    care = _aftercare(folder, criteria_path, today)
    for line in guard_lines(care):
        click.echo(line)
    if care.findings:
        sys.exit(1)


if __name__ == "__main__":
    main()
