"""Hydra configs that fail loudly: one composer and one key checker for the TTS and image config roots.

``configs/tts`` (`levytts train`) and ``configs/image`` (`levytts image`) are composed by :func:`compose`, checked by
:func:`check_keys` and, for the Lightning ``trainer`` node, :func:`check_trainer_keys`. Every error is a ValueError
with a one-line message that names the key and the valid keys of its node (the CLIs print it as
``levytts ACTION: error: ...``), never a silent default. Hydra and OmegaConf do the composing; this module only
turns their multi-line errors into one line with the valid keys, which they do not list.
"""
from __future__ import annotations

import difflib
import inspect
from pathlib import Path

# Keys of the image config before both roots took the same names: old key → the shared name. Both `levytts image`
# and `levytts train` name the shared key when one of these is given (e.g. `alpha=1.8` → diffusion.alpha).
RENAMED = {
    "alpha": "diffusion.alpha", "num_threads": "train.num_threads",
    "data.batch_size": "train.batch_size", "data.num_workers": "train.num_workers",
    "trainer.grad_clip": "train.grad_clip", "trainer.ema_decay": "train.ema_decay",
    "trainer.label_dropout": "train.label_dropout", "trainer.val_every": "train.val_every",
    "trainer.val_images": "train.n_val_images", "trainer.checkpoint_every": "train.checkpoint_every",
    "trainer.log_every": "trainer.log_every_n_steps", "trainer.progress_bar": "trainer.enable_progress_bar",
    "trainer.resume": "resume (auto | null | a checkpoint path)",
    "trainer.optim": "train.lr, train.warmup_steps, train.betas, train.weight_decay",
    "trainer.optim.lr": "train.lr", "trainer.optim.warmup_steps": "train.warmup_steps",
    "trainer.optim.betas": "train.betas", "trainer.optim.weight_decay": "train.weight_decay",
}


def valid_keys(key: str, path: str, valid) -> str:
    """``valid keys of NODE: a, b, c (did you mean 'b'?)`` for an unknown ``key`` of node ``path`` ('' = top)."""
    valid = [str(k) for k in valid]
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"valid keys of {path or 'the top level'}: {', '.join(valid)}{hint}"


def renamed_note(full_key: str, renamed: dict[str, str] | None) -> str:
    """`` (renamed: NEW)`` when ``full_key`` or a node above it is a key of ``renamed`` (old → new), else ''."""
    parts = full_key.split(".")
    for n in range(len(parts), 0, -1):
        new = (renamed or {}).get(".".join(parts[:n]))
        if new:
            return f" (renamed: {new})"
    return ""


def compose(config_dir: str | Path, config_name: str, overrides=(), renamed: dict[str, str] | None = None,
            choices: dict | None = None):
    """Compose ``config_dir/<config_name>.yaml`` with hydra ``overrides``; the unresolved DictConfig.

    ``choices``: a dict filled with hydra's group choices of this composition (group → option, e.g.
    ``{"diffusion": "dlpm"}``), read from the same composition (no second one).

    Raises:
        FileNotFoundError: no ``<config_name>.yaml`` in ``config_dir``.
        ValueError (one line): an unknown key (hydra's struct mode: ``Key 'alhpa' is not in struct``) with the
            valid keys of its node and, for a key of ``renamed``, its new name; an unknown config group or option
            with the groups and their options.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir).resolve()
    if not (config_dir / f"{config_name}.yaml").is_file():
        raise FileNotFoundError(f"no {config_name}.yaml in {config_dir}")
    overrides = list(overrides)

    def _compose(ovr, with_choices=False):
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(ovr), return_hydra_config=with_choices)
        if with_choices:
            choices.update(OmegaConf.to_container(cfg.hydra.runtime.choices))
            with open_dict(cfg):
                del cfg["hydra"]
        return cfg

    try:
        return _compose(overrides, with_choices=choices is not None)
    except HydraException as err:
        cause = err.__cause__
        full_key = getattr(cause, "full_key", None)
        if isinstance(cause, OmegaConfBaseException) and full_key and "not in struct" in str(cause):
            # an unknown key: compose again without that override to list the keys its node does have
            bad = [o for o in overrides if (o.lstrip("+~").split("=", 1)[0] + ".").startswith(full_key + ".")]
            parent = full_key.rsplit(".", 1)[0] if "." in full_key else ""
            valid = ""
            try:
                good = _compose([o for o in overrides if o not in bad])
                node = OmegaConf.select(good, parent) if parent else good
                if node is not None and hasattr(node, "keys"):
                    valid = "; " + valid_keys(full_key, parent, node.keys())
            except (HydraException, OmegaConfBaseException):
                pass
            raise ValueError(f"bad config override {bad[0] if bad else full_key}: {str(cause).splitlines()[0]}"
                             f"{renamed_note(full_key, renamed)}{valid}") from None
        groups = {g.name: sorted(f.stem for f in g.glob("*.yaml")) for g in config_dir.iterdir() if g.is_dir()}
        choices = "; ".join(f"{g}: {', '.join(v)}" for g, v in sorted(groups.items()))
        raise ValueError(f"bad config override: {str(err).splitlines()[0]} (config groups — {choices})") from None


def check_keys(cfg, required: dict[str, tuple], closed=(), renamed: dict[str, str] | None = None) -> None:
    """ValueError (one line) when the composed config lacks a key of ``required`` (node path → keys; '' = top), has
    a key of ``renamed`` (old → new, named in the message) anywhere, or has a key not in ``required`` in a node
    of ``closed``. A ``???`` (mandatory, unset) value counts as missing."""
    from omegaconf import DictConfig, OmegaConf

    for old in renamed or {}:
        parent, _, key = old.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if isinstance(node, DictConfig) and key in node:
            valid = f"; {valid_keys(key, parent, required[parent])}" if parent in closed else ""
            raise ValueError(f"unknown config key '{old}'{renamed_note(old, renamed)}{valid}")
    for path, keys in required.items():
        node = OmegaConf.select(cfg, path) if path else cfg
        if not isinstance(node, DictConfig):
            raise ValueError(f"config key '{path}' is missing or not a mapping; it needs the keys {', '.join(keys)}")
        missing = [k for k in keys if k not in node]
        if missing:
            full = ".".join(p for p in (path, missing[0]) if p)
            raise ValueError(f"config key '{full}' is missing (it has no default: set it in the yaml or with "
                             f"{full}=...); valid keys of {path or 'the top level'}: {', '.join(keys)}")
        if path in closed:
            for k in node:
                if k not in keys:
                    full = ".".join(p for p in (path, str(k)) if p)
                    raise ValueError(f"unknown config key '{full}'; " + valid_keys(str(k), path, keys))


def check_trainer_keys(keys, own=(), renamed: dict[str, str] | None = None) -> None:
    """ValueError (one line) for a key of the ``trainer`` node that is not an argument of ``lightning.Trainer``, or
    is one that levytts sets itself (``own``, e.g. callbacks, logger)."""
    import lightning as L

    valid = [k for k in inspect.signature(L.Trainer.__init__).parameters if k not in set(own) and k != "self"]
    for k in keys:
        if k not in valid:
            raise ValueError(f"unknown config key 'trainer.{k}'{renamed_note('trainer.' + k, renamed)} (not a "
                             "lightning.Trainer argument this run can take); " + valid_keys(k, "trainer", valid))


def check_values(plain: dict, rules: dict[str, dict]) -> None:
    """ValueError (one line, naming the key) for a value of the resolved config ``plain`` that breaks its rule.

    ``rules``: dotted key → keyword arguments of :func:`levytts.cli_types.check_number` (``integer``, ``low``,
    ``high``, ``low_open``, ``high_open``), plus ``nullable`` (None allowed) and ``choices`` (a tuple of allowed
    values instead of a number rule). E.g. ``{"train.batch_size": {"integer": True, "low": 1}}`` makes
    ``train.batch_size=-1`` "train.batch_size must be an integer >= 1, got -1" before any work.
    """
    from levytts.cli_types import check_number

    for key, rule in rules.items():
        node = plain
        for part in key.split("."):
            node = node[part]
        rule = dict(rule)
        nullable, choices = rule.pop("nullable", False), rule.pop("choices", None)
        if node is None and nullable:
            continue
        if choices is not None:
            if node not in choices:
                raise ValueError(f"{key} must be one of {', '.join(map(str, choices))}, got {node!r}")
            continue
        check_number(node, key, **rule)
