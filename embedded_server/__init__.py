"""The demo site: a bottle app on stock waitress, behind an in-process mutual-TLS front."""
