"""Log analysis for support engineers: order lifecycles, session health, two sessions compared by
order, request latency, and a self-contained HTML report. Inputs: everything ``decode`` reads, pcap
and pcapng captures, and a growing log (``--follow``).

One module per job: ``orders`` / ``sessions`` / ``latency`` are sans-I/O trackers fed record by
record (``fastpath`` gives them cheap field access and times); ``pipeline`` runs the one pass over the
records; ``diff`` compares two analyses; ``inputs`` (with ``pcap``) makes the records; ``render``
(text, JSON, CSV), ``html`` and ``svg`` write what was found, ``vocab`` names FIX values from the data
dictionaries; ``cli_*`` are the ``plxtra-fix`` commands.
"""
