"""The self-service kiosk (自助终端): a local web page that verifies licences from a camera or an upload.

See :mod:`elicense.kiosk.server` (``make_app`` / ``serve``) and ``elicense kiosk``.
"""
