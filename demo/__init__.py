"""An independent, plainly written reference implementation of the commission rules (SPEC §5, §6)."""
