"""``plxtra-fix certify-log LOG --suite session``: placeholder replaced below."""
