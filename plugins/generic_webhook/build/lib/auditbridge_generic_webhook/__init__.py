"""auditbridge's generic webhook source: verified intake, mapping by configuration, presets."""
