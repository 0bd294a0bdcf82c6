"""Small utilities shared by the command-line tools."""
