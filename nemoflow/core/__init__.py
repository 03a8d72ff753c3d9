"""Core types every layer shares: values with units, diagnostics and their codes, the checked recipe,
the signature table, the step graph and the engine table. Nothing here imports the rest of nemoflow.
"""
