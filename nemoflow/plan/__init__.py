"""Planning: the static DAG of steps built from a checked recipe."""
