"""The QuickFIX engine: lifecycle, the thread/loop hand-off, record conversion, test client."""
