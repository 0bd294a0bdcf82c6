"""The command-line tools, one module each, all behind the `fastfcn`
command (`main.py`): `fastfcn train`, `evaluate`, `predict`, `export`,
`convert`, `validate-data`, `to-tfrecord`, `benchmark`,
`benchmark-input`, `export-parity`. Each module's `main(argv)` parses its
options without importing TensorFlow, so `--help` answers at once."""
