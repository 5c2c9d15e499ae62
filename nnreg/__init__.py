"""nnreg: the lecture "Neural Network Regression with JAX" as a reproducible DVC pipeline.

The package, by role (each folder's own docstring says more):

- `core/`: the pure library. The data generator, the network, the jitted training loop,
  the optimizers, batches of replicates, evaluation and statistics: functions of arrays
  and small records. No files, no environment variables, no signals, no printing.
- `trainers/`: one interface, two implementations chosen by name (`trainers.get("jax")`,
  `trainers.get("keras")`): train one network; make one replicate for a batch.
- `params/`: params.yaml as typed, validated records (`schema`), its one-line errors
  (`messages`), its loader (`load`) and its JSON Schema (`export`).
- `runtime/`: the stages' edge. XLA's CPU target and the compilation cache (`machine`,
  set up explicitly by each stage before JAX starts), output paths, progress lines, stop
  signals and all-or-none writes (`stage`), atomic files (`files`).
- `report/`: presentation. Labels, the lecture's published numbers, tables and figures.

The scripts in `stages/` are the entry points: each reads its params, calls the library,
and writes its outputs through `runtime`.
"""
