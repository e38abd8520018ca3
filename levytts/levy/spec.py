"""Sampler and η specifications: ONE text form for every CLI, recipe and results table (docs/design.md §4).

Sampler spec (``SamplerSpec.parse`` / ``str``):  ``SAMPLER[:SOLVER]:N[:ETA]``

- SAMPLER: ``ode`` | ``sde-a`` | ``sde-e`` (LévyVP) or ``dlpm`` | ``dlim`` (DLPM);
- SOLVER: ``euler`` | ``ei`` | ``lim`` for the LévyVP samplers (left out: ``euler``), none (or ``-``) for DLPM / DLIM;
- N: steps, >= 1;
- ETA (``sde-e`` and ``dlim`` only): an η spec, below; left out, the caller's default applies
  (e.g. ``--eta`` of `levytts imbalanced synth`).

    sde-e:ei:10:popov(0.3,0.3)    ode:euler:30    ode:30    dlim:20:0.5    dlpm:50

``SamplerSpec.dirname`` names the result directory / table row of a condition: ``<sampler>_<solver>_N<steps>``
(``ode_N<steps>`` for the Euler ODE, the sampler of Popov et al.'s Table 5; no solver for DLPM / DLIM), with the
η tag before ``_N`` when the spec carries one (``sde-e_ei_popov0.3,0.3_N10``). `levytts eval` reads these names
(``<sampler>_N<steps>``); :meth:`SamplerSpec.from_dirname` also reads the image branch's ``<sampler>_<solver>_<N>``.

η spec (``EtaSpec.parse`` / ``str``), the SDE-E noise weight η_t (DLIM: its constant η in [0, 1]):

- a bare number ``0.3``: a CONSTANT η_t = 0.3 at every t (the only meaning of a bare number);
- ``popov(ETA,DELTA[,T0])``: Popov et al. eq. 22, η_t = η + (δ-η)[(t-t0)/(T-t0)]⁺ + 2η(sigmoid(20t) - 1),
  0 <= ETA <= DELTA, T0 < 1 (default 0.7), T the process's final time; ``popov(0.3,0.3)`` is 0.3 decaying to 0
  near t = 0. The older ``popov:ETA,DELTA[,T0]`` is read too;
- ``power`` / ``power(P)``: η_t = t^P (default P = 1/5, their imbalanced-CIFAR choice); also ``power:P``;
- ``preset``: eq. 22 with (η, δ, t0) of Popov et al. Table 6 / App. B for the run's α, solver and N
  (:func:`eta_preset`);
- in a config, a mapping ``{eta, delta, t0, c}`` is eq. 22 as well.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Callable

from levytts.levy.sampling import DLPM_SAMPLERS, SAMPLERS, SOLVERS, eta_schedule, power_eta

ETA_KINDS = ("const", "popov", "power", "preset")
POPOV_DEFAULT_T0, POPOV_DEFAULT_C, POWER_DEFAULT_P = 0.7, 20.0, 0.2

#: (η, δ) per α and (solver, N) of Popov et al. Table 6: EI-500 is the paper's clean column; the rest is a
#: tentative reading of a garbled extraction (15 pairs in column order), starting points to re-tune.
POPOV_TABLE6 = {
    1.8: {("euler", 20): (0.10, 0.10), ("euler", 50): (0.10, 1.00), ("ei", 20): (0.60, 1.00),
          ("ei", 50): (0.10, 1.00), ("ei", 500): (0.10, 0.10)},
    1.5: {("euler", 20): (0.10, 0.10), ("euler", 50): (0.25, 0.25), ("ei", 20): (0.10, 1.00),
          ("ei", 50): (0.70, 1.00), ("ei", 500): (0.10, 0.10)},
    1.2: {("euler", 20): (0.15, 0.15), ("euler", 50): (0.15, 1.00), ("ei", 20): (0.01, 1.00),
          ("ei", 50): (0.05, 1.00), ("ei", 500): (0.10, 0.10)},
}
#: t0 of eq. 22 per α (Popov et al. App. B).
POPOV_T0 = {1.8: 0.7, 1.5: 0.85, 1.2: 0.95}


def eta_preset(alpha: float, solver: str, steps: int) -> tuple[float, float, float]:
    """(η, δ, t0) for SDE-E from :data:`POPOV_TABLE6` at the nearest tabulated α and N (same solver, else EI)."""
    a = min(POPOV_TABLE6, key=lambda k: abs(k - alpha))
    table = POPOV_TABLE6[a]
    solver = solver if any(s == solver for s, _ in table) else "ei"
    n = min((n for s, n in table if s == solver), key=lambda n: abs(math.log(n) - math.log(steps)))
    eta, delta = table[(solver, n)]
    return eta, delta, POPOV_T0[a]


def _num(x: float) -> str:
    """Shortest text that reads back as the same float ("0.3", "1", "1e-05")."""
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


_ETA_HELP = ("eta must be a number >= 0 (a constant η_t), popov(ETA,DELTA[,T0]) (Popov eq. 22, 0 <= ETA <= DELTA, "
             "T0 < 1; also popov:ETA,DELTA[,T0]), power[(P)] (η_t = t^P, P >= 0; also power:P) or preset")
_CALL = re.compile(r"^(?P<kind>popov|power)(?:\((?P<paren>[^()]*)\)|:(?P<colon>.*))?$")


@dataclass(frozen=True)
class EtaSpec:
    """An SDE-E η_t (or DLIM η) specification; see the module docstring for the text forms."""

    kind: str = "const"
    eta: float = 0.0
    delta: float | None = None
    t0: float = POPOV_DEFAULT_T0
    c: float = POPOV_DEFAULT_C
    p: float = POWER_DEFAULT_P

    def __post_init__(self):
        if self.kind not in ETA_KINDS:
            raise ValueError(f"unknown eta kind {self.kind!r}; valid: {', '.join(ETA_KINDS)}")
        values = [self.eta, self.t0, self.c, self.p] + ([] if self.delta is None else [self.delta])
        if any(isinstance(v, bool) or not math.isfinite(float(v)) for v in values):
            raise ValueError(f"eta values must be finite numbers, got {self!r}")
        norm = dict(eta=float(self.eta), delta=None, t0=POPOV_DEFAULT_T0, c=POPOV_DEFAULT_C, p=POWER_DEFAULT_P)
        if self.kind == "popov":
            norm.update(delta=float(self.eta if self.delta is None else self.delta), t0=float(self.t0), c=float(self.c))
            if not 0 <= norm["eta"] <= norm["delta"]:
                raise ValueError(f"need 0 <= eta <= delta, got eta={norm['eta']}, delta={norm['delta']}")
            if not norm["t0"] < 1:
                raise ValueError(f"need t0 < 1 (the ramp ends at the process's T), got t0={norm['t0']}")
        elif self.kind == "power":
            norm.update(eta=0.0, p=float(self.p))
            if norm["p"] < 0:
                raise ValueError(f"need P >= 0 for power(P), got {norm['p']}")
        elif self.kind == "preset":
            norm.update(eta=0.0)
        elif norm["eta"] < 0:
            raise ValueError(f"a constant eta must be >= 0, got {norm['eta']}")
        for k, v in norm.items():
            object.__setattr__(self, k, v)

    @classmethod
    def parse(cls, value) -> "EtaSpec":
        """An EtaSpec from its text (or a number, a ``{eta, delta, t0, c}`` mapping, an EtaSpec).

        One-line ValueError (``bad --eta '...': eta must be ...``) for anything else.
        """
        if isinstance(value, EtaSpec):
            return value
        bad = ValueError(f"bad --eta {value!r}: {_ETA_HELP}")
        if isinstance(value, bool) or value is None:
            raise bad
        try:
            if isinstance(value, (int, float)):
                return cls("const", float(value))
            if hasattr(value, "get") and hasattr(value, "keys"):  # dict or omegaconf DictConfig
                eta = float(value["eta"])
                return cls("popov", eta, float(value.get("delta", eta)), float(value.get("t0", POPOV_DEFAULT_T0)),
                           float(value.get("c", POPOV_DEFAULT_C)))
            text = str(value).strip()
            if text == "preset":
                return cls("preset")
            m = _CALL.match(text)
            if m is None:
                return cls("const", float(text))
            args = m["paren"] if m["paren"] is not None else m["colon"]
            if m["kind"] == "power":
                return cls("power", p=POWER_DEFAULT_P if args is None else float(args))
            if args is None:
                raise bad
            pos, kw = [], {}
            for part in args.split(","):
                name, eq, v = part.strip().partition("=")
                if eq and m["paren"] is not None and name.strip() == "c" and "c" not in kw:
                    kw["c"] = float(v)
                elif eq or kw:
                    raise bad
                else:
                    pos.append(float(part))
            if not 1 <= len(pos) <= 3:
                raise bad
            return cls("popov", pos[0], pos[1] if len(pos) > 1 else None,
                       pos[2] if len(pos) > 2 else POPOV_DEFAULT_T0, kw.get("c", POPOV_DEFAULT_C))
        except (ValueError, TypeError, KeyError):
            raise bad from None

    def __str__(self) -> str:
        if self.kind == "const":
            return _num(self.eta)
        if self.kind == "preset":
            return "preset"
        if self.kind == "power":
            return "power" if self.p == POWER_DEFAULT_P else f"power({_num(self.p)})"
        args = [_num(self.eta), _num(self.delta)]
        if self.t0 != POPOV_DEFAULT_T0 or self.c != POPOV_DEFAULT_C:
            args.append(_num(self.t0))
        if self.c != POPOV_DEFAULT_C:
            args.append(f"c={_num(self.c)}")
        return f"popov({','.join(args)})"

    @property
    def tag(self) -> str:
        """A file-name-safe form for directory names: ``eta0.3``, ``popov0.3,0.3``, ``power``, ``power0.5``, ``preset``."""
        return f"eta{_num(self.eta)}" if self.kind == "const" else str(self).replace("(", "").replace(")", "")

    @classmethod
    def from_tag(cls, tag: str) -> "EtaSpec":
        if tag.startswith("eta"):
            return cls.parse(tag[3:])
        m = re.match(r"^(popov|power)(.+)$", tag)
        return cls.parse(f"{m[1]}({m[2]})" if m else tag)

    def schedule(self, T: float = 1.0, *, alpha: float | None = None, solver: str | None = None,
                 steps: int | None = None) -> float | Callable[[float], float]:
        """η as the samplers take it: a float for a constant, else a callable t -> η_t.

        ``T``: the process's final time (where eq. 22's ramp ends); ``alpha``, ``solver``, ``steps``: needed by
        ``preset`` only.
        """
        if self.kind == "const":
            return self.eta
        if self.kind == "power":
            return power_eta(self.p)
        if self.kind == "preset":
            if alpha is None or solver is None or steps is None:
                raise ValueError("eta 'preset' needs the run's alpha, solver and steps")
            eta, delta, t0 = eta_preset(alpha, solver, steps)
            return eta_schedule(eta, delta, t0=t0, T=T)
        return eta_schedule(self.eta, self.delta, t0=self.t0, T=T, c=self.c)


_SPEC_HELP = ("give SAMPLER:SOLVER:N[:ETA] (SAMPLER ode|sde-a|sde-e|dlpm|dlim; SOLVER euler|ei|lim, may be left out "
              "(euler), none for dlpm/dlim; N >= 1; ETA for sde-e/dlim only), e.g. ode:euler:10 or "
              "sde-e:ei:10:popov(0.3,0.3)")
_DIRNAME = re.compile(r"^(?P<sampler>ode|sde-a|sde-e|dlpm|dlim)(?:_(?P<solver>euler|ei|lim))?(?:_(?P<eta>.+?))?"
                      r"_N?(?P<steps>\d+)$")


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text.strip()) is not None


@dataclass(frozen=True)
class SamplerSpec:
    """One sampler condition: sampler, solver, steps and (SDE-E / DLIM) an η spec.

    ``SamplerSpec.parse("sde-e:ei:10:popov(0.3,0.3)")``; ``str(spec)`` gives the canonical text back
    (``parse(str(s)) == s``); ``spec.dirname`` the result-directory name. The solver of DLPM / DLIM is ``-``.
    """

    sampler: str
    solver: str = "euler"
    steps: int = 10
    eta: EtaSpec | None = None

    def __post_init__(self):
        if self.sampler not in SAMPLERS + DLPM_SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; valid: {', '.join(SAMPLERS + DLPM_SAMPLERS)}")
        if self.sampler in DLPM_SAMPLERS:
            if self.solver not in ("-", "", None, "euler"):
                raise ValueError(f"sampler {self.sampler!r} takes no solver, got {self.solver!r}")
            object.__setattr__(self, "solver", "-")
        elif self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; valid: {', '.join(SOLVERS)}")
        elif self.solver == "lim" and self.sampler == "sde-e":
            raise ValueError("solver 'lim' (LIM's published discretisation) exists for samplers 'ode' and 'sde-a' only")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")
        if self.eta is not None:
            eta = EtaSpec.parse(self.eta)
            if not self.uses_eta:
                raise ValueError(f"sampler {self.sampler!r} takes no η (only sde-e and dlim do)")
            if self.sampler == "dlim" and not (eta.kind == "const" and eta.eta <= 1):
                raise ValueError(f"DLIM's eta is a number in [0, 1], got {eta}")
            object.__setattr__(self, "eta", eta)

    @property
    def uses_eta(self) -> bool:
        return self.sampler in ("sde-e", "dlim")

    @property
    def is_dlpm(self) -> bool:
        """A sampler of the discrete-time DLPM process (dlpm, dlim)."""
        return self.sampler in DLPM_SAMPLERS

    @classmethod
    def parse(cls, text, what: str = "sampler spec") -> "SamplerSpec":
        """``SAMPLER[:SOLVER]:N[:ETA]`` → SamplerSpec (a SamplerSpec passes through); one-line ValueError
        ``bad <what> '<text>': ...`` naming the form."""
        if isinstance(text, SamplerSpec):
            return text
        text = str(text).strip()
        parts = text.split(":")
        sampler, rest = parts[0], parts[1:]
        solver = "-" if sampler in DLPM_SAMPLERS else "euler"
        if rest and not _is_int(rest[0]):
            solver = rest.pop(0)
        if not rest or not _is_int(rest[0]) or int(rest[0]) < 1:
            raise ValueError(f"bad {what} {text!r}: {_SPEC_HELP}")
        steps, eta = int(rest[0]), ":".join(rest[1:]) or None
        try:
            return cls(sampler, solver, steps, eta)
        except ValueError as err:
            raise ValueError(f"bad {what} {text!r}: {err}; {_SPEC_HELP}") from None

    def __str__(self) -> str:
        head = f"{self.sampler}:{self.steps}" if self.is_dlpm else f"{self.sampler}:{self.solver}:{self.steps}"
        return head if self.eta is None else f"{head}:{self.eta}"

    @property
    def dirname(self) -> str:
        """``ode_N10`` (Euler ODE), ``sde-e_ei_N5``, ``dlim_N20``; an η tag before ``_N`` when the spec has one."""
        if self.is_dlpm or (self.sampler, self.solver) == ("ode", "euler"):
            base = self.sampler
        else:
            base = f"{self.sampler}_{self.solver}"
        return base + ("" if self.eta is None else f"_{self.eta.tag}") + f"_N{self.steps}"

    @classmethod
    def from_dirname(cls, name: str) -> "SamplerSpec":
        """The spec of a result name: :attr:`dirname` and the older image-branch ``<sampler>_<solver>_<N>``."""
        m = _DIRNAME.match(name)
        if m is None:
            raise ValueError(f"{name!r} is not a sampler condition name (e.g. ode_N10, sde-e_ei_N5, dlpm_N20)")
        sampler = m["sampler"]
        solver = m["solver"] or ("-" if sampler in DLPM_SAMPLERS else "euler")
        return cls(sampler, solver, int(m["steps"]), EtaSpec.from_tag(m["eta"]) if m["eta"] else None)

    def with_eta(self, default) -> "SamplerSpec":
        """This spec with ``default`` as its η when it uses one and has none."""
        if not self.uses_eta or self.eta is not None or default is None:
            return self
        return replace(self, eta=EtaSpec.parse(default))

    def eta_value(self, T: float = 1.0, alpha: float | None = None) -> float | Callable[[float], float]:
        """η as the sampler takes it (0 when the spec has none): see :meth:`EtaSpec.schedule`."""
        if self.eta is None:
            return 0.0
        return self.eta.schedule(T, alpha=alpha, solver=self.solver, steps=self.steps)


def parse_eta(value) -> EtaSpec:
    """The one η parser: :meth:`EtaSpec.parse`."""
    return EtaSpec.parse(value)
