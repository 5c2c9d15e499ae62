"""The base of every params.yaml section: a frozen pydantic model that refuses unknown keys
and (reading a file) requires every key but its optional ones; `field_error` is a rule's
error about one of its fields. `nnreg.params.messages` turns either into one line."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """A mapping in params.yaml: every key written (but the `_optional` ones), none unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False, defer_build=True,
                              json_schema_extra=lambda schema, cls: cls._schema_extra(schema))
    _optional: ClassVar[tuple[str, ...]] = ()  # may be left out or null: the default applies
    _nullable: ClassVar[tuple[str, ...]] = ()  # optional keys whose null is a value of its own (off), not the default
    _what: ClassVar[str] = ""  # " for optimizer adam": said after "unknown key"
    _listed: ClassVar[str] = "known"

    @classmethod
    def _known(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def _schema_extra(cls, schema: dict) -> None:
        schema["required"] = [k for k in cls.model_fields if k not in cls._optional]
        for k in cls._optional:  # may be null too: then the default applies (or, if nullable, null)
            prop = schema["properties"][k]
            if not any(option.get("type") == "null" for option in prop.get("anyOf", [])):
                meta = {m: prop.pop(m) for m in ("title", "description", "default") if m in prop}
                schema["properties"][k] = {"anyOf": [prop, {"type": "null"}], **meta}
        schema.update(cls._schema_rules())

    @classmethod
    def _schema_rules(cls) -> dict:
        """Rules across fields that JSON Schema can say too."""
        return {}

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, raw: Any, info: ValidationInfo) -> Any:
        """Unknown keys refused, and (reading a file) every key but the optional ones required."""
        if isinstance(raw, BaseModel):
            return raw
        if not isinstance(raw, dict):
            raise PydanticCustomError("mapping", "must be a mapping of keys to values")
        for k in raw:
            if k not in cls.model_fields:
                raise PydanticCustomError("unknown_key", "unknown key{what} ({listed}: {known})",
                                          {"key": k, "what": cls._what, "listed": cls._listed,
                                           "known": ", ".join(cls._known())})
        for k in cls.model_fields if (info.context or {}).get("file") else ():
            if k not in raw and k not in cls._optional:
                raise PydanticCustomError("missing_key", "missing key{required_by}",
                                          {"key": k, "required_by": f" (required by{cls._what.removeprefix(' for')})"
                                           if cls._what else ""})
        return {k: v for k, v in raw.items() if not (v is None and k in cls._optional and k not in cls._nullable)}


def field_error(key: str, text: str) -> PydanticCustomError:
    """An error about field `key` of the model being checked."""
    return PydanticCustomError("rule", text, {"key": key})
