"""The ``sigconv`` command line (installed as the ``sigconv_cli`` package)."""
