"""NFG: numbered goods and rights as tokens (docs/design/nfg.md); pure records and rules."""
