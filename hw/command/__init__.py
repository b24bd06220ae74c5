"""The command processor of the System: command fetch, LOAD and STORE engines (``hw/system.py``)."""
