"""Online anomaly model, river adapter, feedback learner on delayed labels, versioned snapshots."""

from riskstream.models.hst import HalfSpaceTrees

__all__ = ["HalfSpaceTrees"]
