"""The simulated device behind ``--device=mock``: a TV box UI, a player with moving, sounding
content, modelled key latency and scheduled defects with their ground truth."""

from harness.sim.device import SUPPORTED_DEFECTS, InjectionSpec, SimSettings, SimulatedDevice

__all__ = ["SUPPORTED_DEFECTS", "InjectionSpec", "SimSettings", "SimulatedDevice"]
