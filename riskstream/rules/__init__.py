"""The rule language (parse, check, plan, evaluate), rule sets and the decision policy."""
