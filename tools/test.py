"""`python tools/test.py CONFIG ...`: MMAction2's entry point, kept for people who type it.

The same as `vidlab test CONFIG ...`; MMAction2 0.x and 1.x options are accepted (see
`vidlab test --help` and vidlab/cli/testing.py for the 0.x ones, each mapped with a note).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from vidlab.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["test", *sys.argv[1:]]))
