"""The CLI's rich consoles: results on stdout, progress and errors on stderr."""
from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
