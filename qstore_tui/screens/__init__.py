"""The five screens (one module each) and the dialogs they open."""
