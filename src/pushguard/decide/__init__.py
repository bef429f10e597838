"""The decision point: policies as code (YAML + CEL), evaluation, explain, report-only."""
