"""Presentation: what the report stage and `make exp` show, computed from the pipeline's small
outputs. `labels` (method names), `lecture` (the lecture's published numbers, and which params
make them comparable), `tables` (Markdown tables and long-format plot data), `figures`
(matplotlib), `experiments` (a readable `dvc exp show`). Nothing here trains or evaluates."""
