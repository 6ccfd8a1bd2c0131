"""The app's widgets, one per module; each is touched only on the GUI thread."""
