"""params.yaml, in five pieces: `schema` (frozen pydantic records, the vocabulary taken from
the tables that implement it), `rules` (the constraints they are built from: strict types,
bounds, each with its one-line rule and JSON Schema), `messages` (a value shown as YAML writes
it; a pydantic error as one line naming the dotted key), `load` (the file to `Params`, every
failure a one-line `ConfigError`) and `export` (the JSON Schema editors read, and params back
as plain data)."""
