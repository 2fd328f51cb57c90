"""Online anomaly model, river adapter, feedback learner on delayed labels, versioned snapshots."""
