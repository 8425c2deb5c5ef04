"""The four areas of the main window."""
