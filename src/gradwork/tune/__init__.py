"""gradwork.tune: see DESIGN.md (under construction)."""
