"""The transaction simulator: a synthetic bank with habits, fraud scenarios and delayed labels."""
