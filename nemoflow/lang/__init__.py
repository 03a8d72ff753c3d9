"""The .nemo language: parser, syntax tree, checks and formatter."""
