"""Face attributes: expression, gender and age, face mesh, eye crops, per-track smoothing."""
