"""civicgrid: open command-centre software for grid-based urban governance."""

__version__ = "0.1.0"
