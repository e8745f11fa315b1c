"""`python -m codesign` runs the CLI."""
from codesign.cli import run

if __name__ == "__main__":
    run()
