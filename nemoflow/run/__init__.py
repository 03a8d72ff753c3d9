"""Running a checked recipe: executing steps, checking outputs, reporting."""
