"""The orders bridge: FIX order requests <-> Zenith Trading, free of I/O."""
