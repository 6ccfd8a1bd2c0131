"""CLI sub-command modules, one per group (see ``engine.cli``)."""
