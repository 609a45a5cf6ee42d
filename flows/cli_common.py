"""What every ``gridcast`` command module shares: how a user error ends a command."""

from __future__ import annotations

import typer

from flows.errors import GridcastError

__all__ = ["fail"]


def fail(exc: GridcastError) -> None:
    """Print the error, one ``gridcast: `` line per problem it lists, and exit with status 2."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        typer.echo(f"gridcast: {line}", err=True)
    raise typer.Exit(code=2)
