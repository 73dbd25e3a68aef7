"""Rendering, signing and verifying the minutes: the only home of pyHanko (STYLE.md, section 6).

Import the submodules directly; this package imports nothing at load so that a web worker that only
verifies does not pay for PyMuPDF, and a render worker does not pay for pyHanko.
"""

__all__ = ["certs", "render", "sign", "signer", "verify"]
