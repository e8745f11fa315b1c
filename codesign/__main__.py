"""`python -m codesign` runs the CLI."""
from .cli import run

run()
