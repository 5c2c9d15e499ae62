"""Reading params.yaml: the file to `Params`, every failure a one-line `ConfigError`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nnreg.errors import NnregError
from nnreg.params.messages import one_line
from nnreg.params.schema import TAGS, Params


class ConfigError(NnregError):
    """A params file that breaks a rule; the message names the key."""


def parse_params(raw: Any) -> Params:
    """Builds `Params` from a parsed YAML document, or raises ConfigError."""
    try:
        return Params.model_validate(raw, context={"file": True})
    except ValidationError as e:
        raise ConfigError(one_line(e.errors(include_url=False)[0], raw, TAGS)) from None
    except RecursionError:
        raise ConfigError("params: nested too deeply to be a params file") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Reads and validates a params file; every failure is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({e})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a params file") from None
    except (ValueError, KeyError, AttributeError, OverflowError) as e:
        # PyYAML's constructors raise these for a value that parses but cannot be built:
        # `2020-02-30`, `!!int abc`, `!!float abc`, `!!bool maybe`, `!!timestamp abc`, an
        # integer of more than 4,300 digits.
        reason = " ".join(str(e).split())[:120]
        raise ConfigError(f"{path}: a value YAML cannot read ({type(e).__name__}: {reason})") from None
    if raw is None:
        raise ConfigError(f"{path}: empty file")
    try:
        return parse_params(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
