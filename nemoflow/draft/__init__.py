"""The Draft (timeline JSON): model, schema validation, operations, and building from edit steps."""
