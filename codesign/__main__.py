"""`python -m codesign` runs the CLI (see codesign.entry)."""
from codesign.entry import run

if __name__ == "__main__":
    run()
