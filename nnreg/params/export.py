"""params out of Python: the JSON Schema editors read (`params.schema.json`, `make schema`),
and params as the plain data params.yaml holds."""

from __future__ import annotations

import json

from nnreg.params.schema import JaxModel, Model, Params


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def model_to_dict(model: Model) -> dict:
    """A model entry as it is written in params.yaml: unset keys left out, settings flat."""
    out = _plain(model.model_dump(exclude_none=True))
    if isinstance(model, JaxModel) and out.get("l2") == 0.0:
        del out["l2"]  # no penalty: the default
    return out


def to_dict(params: Params) -> dict:
    """The params as plain YAML-ready data (tuples become lists)."""
    out = {name: _plain(getattr(params, name).model_dump()) for name in Params.model_fields if name != "models"}
    out["models"] = {name: model_to_dict(m) for name, m in params.models.items()}
    return {name: out[name] for name in Params.model_fields}


def json_schema() -> str:
    """The JSON Schema of params.yaml, as committed in params.schema.json."""
    schema = Params.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m nnreg.params.export > params.schema.json
    print(json_schema(), end="")
