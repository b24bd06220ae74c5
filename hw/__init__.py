"""Amaranth 0.5 hardware of the qconv accelerator, generated from one :class:`model.config.AcceleratorConfig`."""
