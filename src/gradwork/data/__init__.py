"""gradwork.data: see DESIGN.md (under construction)."""
