"""Controllers: the logic between widgets and the engine/document, so the main window stays wiring only."""
