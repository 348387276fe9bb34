"""OFD electronic licence files (GB/T 33190 package, GB/T 36905 licence file): write, read, check.

``package``: the bounded ZIP/XML reader and the deterministic writer; ``write``: a licence as an OFD
document; ``verify``: what each signature of any OFD covers and whether the package still matches it.
"""
