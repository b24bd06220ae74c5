"""Command line, simulator runners and cocotb testbenches of qconv (imports :mod:`model` and :mod:`hw`)."""
