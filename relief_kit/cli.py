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
