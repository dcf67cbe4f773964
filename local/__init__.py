"""The local stack: what imitates AWS on one laptop (the `local` extra)."""
