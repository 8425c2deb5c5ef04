"""The PySide6 desktop GUI of mTLS Lab: a thin layer over core/ and embedded_server/."""
