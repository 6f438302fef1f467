"""The market-data bridge: FIX market-data requests <-> Zenith subscriptions, free of I/O."""
