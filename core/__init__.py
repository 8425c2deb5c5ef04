"""mTLS Lab core: a small certificate authority for teaching mutual TLS.

Nothing in this package imports Qt; the GUI, the command line and the tests all
call the same plain, typed functions.
"""
