"""Partner certification: Plxtra's side of a session with a partner's FIX engine (suites, runner,
records, verdicts from logs, JSON view). See ``specs/partner-certification/README.md``."""
