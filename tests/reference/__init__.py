"""Third-party reference implementations used only by tests (never imported by the product)."""
