"""gradwork.train: see DESIGN.md (under construction)."""
