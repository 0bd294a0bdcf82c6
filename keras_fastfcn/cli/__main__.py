"""`python -m keras_fastfcn.cli COMMAND ...` is `fastfcn COMMAND ...`."""

import sys

from keras_fastfcn.cli.main import main

sys.exit(main())
