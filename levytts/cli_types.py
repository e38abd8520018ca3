"""Checked numbers for the `levytts` command line and the Python API.

:func:`check_number` is the one rule: a finite number (an integer where asked) inside a range, else a
``ValueError`` naming the parameter, e.g. ``length_scale must be a finite number in (0, 10], got nan``.
The argparse ``type=`` helpers below apply the same rule to option strings; argparse then prints one line
such as ``levytts synth: error: argument --length-scale: must be a finite number in (0, 10], got 'nan'``
and exits with status 2.

    parser.add_argument("--steps", type=positive_int)
    parser.add_argument("--length-scale", type=number(low=0, high=10, low_open=True))
"""
from __future__ import annotations

import argparse
import math
import numbers
import re
from typing import Callable

SEED_MAX = 2**32 - 1  # numpy's and Python's seeders accept 0 ..= 2**32 - 1 everywhere


def describe(integer: bool = False, low: float | None = None, high: float | None = None,
             low_open: bool = False, high_open: bool = False) -> str:
    """The rule in words: ``an integer >= 1``, ``a finite number > 0``, ``a finite number in (0, 10]`` ..."""
    what = "an integer" if integer else "a finite number"
    lo, hi = _fmt(low), _fmt(high)
    if low is not None and high is not None:
        return f"{what} in {'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
    if low is not None:
        return f"{what} {'>' if low_open else '>='} {lo}"
    if high is not None:
        return f"{what} {'<' if high_open else '<='} {hi}"
    return what


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e16 else f"{v:g}"


def check_number(value, name: str | None = None, *, integer: bool = False, low: float | None = None,
                 high: float | None = None, low_open: bool = False, high_open: bool = False):
    """``value`` as an int (``integer``) or float, if finite and inside the range; else ValueError.

    ``value`` may be a number or a string (an option's text). Booleans are refused; a float with an
    integral value (``10.0``) passes as an integer. ``name`` starts the message (None: the message starts
    with "must be", as argparse prefixes the option itself).
    """
    rule = describe(integer, low, high, low_open, high_open)
    err = ValueError(f"{name + ' ' if name else ''}must be {rule}, got {value!r}")
    if isinstance(value, bool) or value is None:
        raise err
    try:
        if isinstance(value, str):
            text = value.strip()
            x = int(text) if integer else float(text)
        elif integer and isinstance(value, numbers.Integral):
            x = int(value)
        elif isinstance(value, numbers.Real):
            x = float(value)
            if integer:
                if not x.is_integer():
                    raise err
                x = int(x)
        else:
            raise err
    except (ValueError, OverflowError):
        raise err from None
    if not math.isfinite(x):
        raise err
    if low is not None and (x <= low if low_open else x < low):
        raise err
    if high is not None and (x >= high if high_open else x > high):
        raise err
    return x


def number(integer: bool = False, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> Callable[[str], int | float]:
    """An argparse ``type=`` for :func:`check_number` with this rule."""

    def parse(text: str):
        try:
            return check_number(text, integer=integer, low=low, high=high, low_open=low_open, high_open=high_open)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = describe(integer, low, high, low_open, high_open)
    return parse


def validated(check: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse ``type=`` that runs ``check(text)`` (which raises ValueError on bad input) and keeps the text."""

    def parse(text: str) -> str:
        try:
            check(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
        return text

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


positive_int = number(integer=True, low=1)                  # steps, threads, batch sizes, counts
nonneg_int = number(integer=True, low=0)                    # counts that may be 0, tolerances
seed_int = number(integer=True, low=0, high=SEED_MAX)       # random seeds
positive_float = number(low=0, low_open=True)               # temperatures, t_start, durations > 0
nonneg_float = number(low=0)                                # thresholds >= 0
finite_float = number()                                     # any finite number
unit_interval = number(low=0, high=1)                       # probabilities, fractions


_DEVICE = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")


def check_device(text: str) -> str:
    """A torch device string (``cpu``, ``cuda``, ``cuda:1``, ``mps`` ...), else ValueError."""
    if not isinstance(text, str) or not _DEVICE.fullmatch(text.strip()):
        raise ValueError(f"must be a torch device such as cpu, cuda or cuda:0, got {text!r}")
    return text.strip()


device_str = validated(check_device)                        # --device
