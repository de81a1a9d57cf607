"""Command-line subcommands contributed by plugins (hook ``register_commands``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # argparse stays off the Lambda's import path
    import argparse


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: ``configure`` adds its arguments and ``set_defaults(run=...)``."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
