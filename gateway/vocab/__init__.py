"""The shared FIX vocabulary every part may import: records, tags and enums, wire text, rejects, and the
one reader of QuickFIX's data dictionaries (``dictionary``)."""
