"""Online anomaly model, river adapter, feedback learner on delayed labels, versioned snapshots."""

from riskstream.models.hst import HalfSpaceTrees
from riskstream.models.online import FrozenModel, OnlineModelStage, combine_risk, load_snapshot
from riskstream.models.stage import MODEL_KINDS, ModelScores, build_model_stage

__all__ = [
    "MODEL_KINDS",
    "FrozenModel",
    "HalfSpaceTrees",
    "ModelScores",
    "OnlineModelStage",
    "build_model_stage",
    "combine_risk",
    "load_snapshot",
]
