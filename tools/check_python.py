"""`make install`'s first step: stop with one line on a Python the pinned packages do not support.

Usage: python tools/check_python.py 3.11 3.12 3.13 (the supported versions). Written for
any Python 3, so that an old one gets the message too, not a syntax error.
"""

import sys

supported = sys.argv[1:]
version = "%d.%d" % sys.version_info[:2]
if version not in supported:
    sys.stderr.write("error: %s is Python %s; nnreg supports Python %s: run `make PYTHON=python%s`\n"
                     % (sys.executable, version, ", ".join(supported), supported[0]))
    sys.exit(1)
