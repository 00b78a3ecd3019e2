"""Small widgets of the control room, one per module, each with its CSS beside the code."""
