"""Named derivations: short recipes over the engine's rules."""
