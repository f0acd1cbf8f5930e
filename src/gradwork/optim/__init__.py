"""gradwork.optim: see DESIGN.md (under construction)."""
