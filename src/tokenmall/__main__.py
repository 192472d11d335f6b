"""``python -m tokenmall``: the same Typer app as the ``tokenmall`` console script."""

from tokenmall.cli.main import main

if __name__ == "__main__":
    main()
