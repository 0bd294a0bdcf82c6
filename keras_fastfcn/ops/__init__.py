"""Backend-neutral tensor math shared by the layers and the fast paths."""
