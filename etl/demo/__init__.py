"""Deterministic synthetic demo world: raw input files for ``riskmap demo``."""

from riskmap.etl.demo.generate import SOURCE_LABEL, DemoFiles, generate_demo

__all__ = ["SOURCE_LABEL", "DemoFiles", "generate_demo"]
