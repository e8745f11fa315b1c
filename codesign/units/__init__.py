"""Units: which channels/neurons are tied together (graph), their masks, and physical resizing."""
