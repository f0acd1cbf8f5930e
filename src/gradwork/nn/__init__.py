"""gradwork.nn: see DESIGN.md (under construction)."""
