"""The command line (Typer): thin commands that parse arguments and call services.

User mistakes end with a one-line message and exit status 2, never a traceback.
"""
