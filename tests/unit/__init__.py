"""The library's pieces, in process, on tiny inputs; the params' rules; the docs; the committed results read back. `make test-unit`."""
