"""Pictures of edits: a Draft drawn as an editor's timeline, contact sheets and poster frames of outputs."""
