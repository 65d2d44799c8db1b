"""The `relief-kit` command: thin, it only turns options into calls.

Every user-facing failure is a ReliefKitError printed as one line (exit 1 or 2);
never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import ReliefKitError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReliefKitError as exc:
            click.echo(f"erro: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="relief-kit")
def main() -> None:
    """relief-kit: analise caso a caso os pedidos de clientes que não conseguem pagar."""


DIR = click.Path(file_okay=False, path_type=Path)
EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


# --------------------------------------------------------------------------- import


def _as_of(value: str | None):
    from datetime import date

    from .errors import InputError
    from .tables import ValueProblem, parse_date

    if not value:
        return date.today()
    try:
        return parse_date(value)
    except ValueProblem as exc:
        raise InputError(f"--as-of: {exc}")


def _finish_import(result, out: Path, as_of: str | None) -> None:
    """Write the folder, print the summary, exit 1 when a required value was unusable."""
    from .importers.folder import write_import

    write_import(result, out, _as_of(as_of))
    for line in result.report.lines():
        click.echo(line)
    click.echo(f"Pasta de dados: {out}")
    if result.report.failed:
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
    from .importers.folder import check_destination
    from .importers.ixc import import_ixc as run

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
    from .importers.folder import check_destination
    from .importers.mkauth import import_mkauth as run

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
    from .importers.folder import check_destination
    from .importers.mapped import import_mapped as run

    check_destination(out)
    _finish_import(run(mapping, sources), out, as_of)
