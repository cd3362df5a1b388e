"""An independent, plainly written reference implementation of the commission and deal-registration
rules (docs/rules/commissions.md, docs/rules/deal-registration.md)."""
